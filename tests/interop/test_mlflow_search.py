"""MLflow's search syntax with MLflow's meaning: the cases of MLflow's own search tests
(tests/utils/test_search_utils.py and the SQLAlchemy store's search tests), run on the same
runs in a real MLflow sqlite store and in nbmlops (the runs imported from that store, ids and
times kept), must give the same runs in the same order."""

from __future__ import annotations

import pytest

import nbmlops
from nbmlops.errors import InvalidFilter
from nbmlops.tracking.query import runs_page

from ._mlflow_store import T0

# MLflow takes IN / NOT IN only for run_id and datasets; nbmlops takes them for any column
# (tests/tracking/test_filter.py), as it takes OR, NOT and parentheses.
FILTERS = [
    None,
    "",
    # attributes, with every prefix MLflow accepts
    "attributes.status = 'FAILED'",
    "attribute.status = 'FAILED'",
    "attr.status != 'FAILED'",
    "run.status = 'KILLED'",
    "status = 'FINISHED'",
    "attributes.run_name = 'run-0'",
    "run_name = 'other'",
    "attributes.run_name != 'other'",
    "attributes.run_name LIKE 'run-%'",
    "attributes.run_name ILIKE 'run-%'",
    "attributes.run_name LIKE '%-_'",
    "attributes.run_name ILIKE '%UN%'",
    f"attributes.start_time >= {T0 + 11_000}",
    f"attribute.start_time > {T0 + 11_000}",
    f"attributes.start_time = {T0 + 11_000}",
    f"attributes.start_time < {T0 + 12_000}",
    f"attributes.start_time != {T0 + 11_000}",
    f"created >= {T0 + 12_000}",
    f"attributes.end_time <= {T0 + 16_000}",
    f"attributes.end_time > {T0 + 16_000}",
    # metrics
    "metrics.key1 = 123",
    "metrics.key1 != 123",
    "metrics.key1 >= 123",
    "metric.key1 > 121",
    "metrics.key1 < 124",
    "metrics.key1 <= 121",
    "metrics.key1 > 0 AND metrics.key1 < 124",
    "metrics.`f1-macro` >= 0.8",
    'metrics."f1-macro" >= 0.5',
    "`metric`.key1 >= 123",
    "`metrics`.`Mean Square Error` > 2",
    'metrics."Mean Square Error" < 2',
    # params
    "params.my_param = 'A'",
    'params.my_param = "A"',
    "param.my_param != 'A'",
    "parameter.my_param = 'B'",
    'params."my_param" != "A"',
    "params.`my_param` = 'B'",
    "`params`.my_param = 'B'",
    "params.my_param LIKE 'A%'",
    "params.my_param ILIKE 'a'",
    "params.my_param LIKE 'a'",
    'params."p.a.r.a.m" != "b"',
    "params.`p.a.r.a.m` = 'a'",
    "params.lr = '0.01'",
    "params.lr IS NULL",
    "params.lr IS NOT NULL",
    "params.nobody IS NULL",
    # tags
    "tags.tag1 = 'D'",
    "tags.tag1 != 'D'",
    "tag.tag1 = 'C'",
    "tags.tag1 LIKE 'c'",
    "tags.tag1 ILIKE 'c'",
    "tags.tag1 LIKE '%'",
    'tags."t.a.g" = "a"',
    "tags.tag1 IS NULL",
    "tags.tag1 IS NOT NULL",
    "tags.env IS NOT NULL AND params.lr = '0.01'",
    "tags.tag1 IS NULL AND params.my_param = 'A'",
    # conjunctions in any case
    "params.my_param = 'A' AND attributes.status = 'FAILED'",
    "params.my_param = 'A' and attributes.status = 'FAILED'",
    "params.my_param = 'A' And status = 'FAILED'",
    "metrics.key1 >= 121 AND tags.tag1 != 'D' AND params.my_param LIKE '%'",
]

ORDERS = [
    None,
    [],
    ["tags.noSuchTag"],
    ["metrics.noSuchMetric DESC"],
    ["attributes.status"],
    ["attributes.start_time"],
    ["attributes.start_time DESC"],
    ["attributes.end_time DESC"],
    ["attributes.run_name"],
    ["metrics.key1 asc"],
    ['metrics."key1"  desc'],
    ["metrics.`key1` DESC"],
    ["params.my_param"],
    ["params.my_param aSc", "attributes.status  ASC"],
    ["params.my_param", "attributes.status DESC"],
    ["params.my_param DESC", "attributes.status   DESC"],
    ["params.`my_param` DESC", "attributes.status DESC"],
    ["tags.tag1"],
    ["tags.tag1    DESC"],
    ["metrics.`Mean Square Error`"],
    ["metrics.`Mean Square Error` DESC"],
    ["metrics.`f1-macro` DESC", "metrics.key1"],
]


@pytest.fixture(scope="module")
def both(mlflow_store, tmp_path_factory):
    """The MLflow client and an nbmlops workspace holding the same runs."""
    from mlflow import MlflowClient

    home = tmp_path_factory.mktemp("search-workspace")
    nbmlops.configure(home=str(home), reset=True)
    nbmlops.import_mlflow(mlflow_store["uri"], "search", models=False, progress_bar=False)
    client = MlflowClient(tracking_uri=mlflow_store["uri"])
    exp_id = client.get_experiment_by_name("search").experiment_id
    yield client, exp_id, str(home)
    nbmlops.configure(reset=True)


def _mlflow(client, exp_id, filter_string, order_by):
    found = client.search_runs([exp_id], filter_string=filter_string or "", order_by=order_by)
    return [r.info.run_id for r in found]


def _ours(home, filter_string, order_by, paged=False):
    nbmlops.configure(home=home, reset=True)
    if paged:
        page = runs_page("search", filter=filter_string, order_by=order_by, limit=100)
        return list(page.frame["run_id"])
    return list(nbmlops.runs("search", filter=filter_string, order_by=order_by)["run_id"])


@pytest.mark.parametrize("text", FILTERS)
def test_filter_finds_what_mlflow_finds(both, text):
    client, exp_id, home = both
    expected = _mlflow(client, exp_id, text, None)
    assert _ours(home, text, None) == expected
    assert _ours(home, text, None, paged=True) == expected


@pytest.mark.parametrize("order", ORDERS, ids=str)
def test_order_is_mlflows(both, order):
    client, exp_id, home = both
    expected = _mlflow(client, exp_id, None, order)
    assert _ours(home, None, order) == expected
    assert _ours(home, None, order, paged=True) == expected


def test_filter_and_order_together(both):
    client, exp_id, home = both
    text, order = "metrics.key1 >= 121 AND params.my_param != 'B'", ["metrics.key1 DESC"]
    assert _ours(home, text, order) == _mlflow(client, exp_id, text, order)


def test_run_id_attribute(both):
    client, exp_id, home = both
    some = _mlflow(client, exp_id, None, None)[:2]
    for text in (
        f"attributes.run_id = '{some[0]}'",
        f"attributes.run_id IN ('{some[0]}', '{some[1]}')",
        f"attributes.run_id != '{some[0]}'",
        f"run_id NOT IN ('{some[1]}')",
    ):
        assert _ours(home, text, None) == _mlflow(client, exp_id, text, None), text


# Each rejection names the offending text and what to write instead, never an internal name.
REJECTED = [
    ("m.acc >= 0.94", "'m'", "metrics.<key>"),
    ("p.model >= 'LR'", "'p'", "params.<key>"),
    ("metrics.f1-macro > 0.8", "'-'", "metrics.`f1-macro`"),
    ("attribute.start != 1", "attribute.start", "attribute.status"),
    ("params.acc = LR", "'LR'", "params.acc = 'LR'"),
    ("attribute.status IS 'RUNNING'", "'RUNNING'", "attribute.status = 'RUNNING'"),
    ("metric.acc !=", "end of the filter", "column or a value"),
    ("params.acc LR", "'params.acc'", "metrics.accuracy > 0.9"),
    ("metric.acc >= 0.94; metrics.rmse < 1", "';'", "and / or"),
    ("metrics.acc = 'LR'", "'LR'", "without quotes"),
    ("`metrics.A > 0.1", "backtick", "metrics.`f1-macro`"),
    ("params.acc = 'LR", "quote", "never closed"),
    ("1 == 1", "1 = 1", "metrics.accuracy > 0.9"),
    ("metrics.key1 LIKE '1%'", "LIKE", "metrics.key1 > 0.9"),
    ("params.my_param LIKE 5", "5", "LIKE '%svm%'"),
    ("metrics.x > 1 metrics.y < 2", "'metrics'", "and / or"),
]


@pytest.mark.parametrize(("text", "token", "fix"), REJECTED)
def test_rejection_names_the_token_and_the_fix(both, text, token, fix):
    _client, _exp, home = both
    nbmlops.configure(home=home, reset=True)
    with pytest.raises(InvalidFilter) as info:
        nbmlops.runs("search", filter=text)
    message = str(info.value)
    assert token in message and fix in message, message
    assert "__nbmlops" not in message


@pytest.mark.parametrize(
    ("order", "token"),
    [("attribute.run_id ACS", "ASC"), ("attribute.run_id decs", "DESC"), ("`metrics.A", "`")],
)
def test_bad_order_names_the_token(both, order, token):
    _client, _exp, home = both
    nbmlops.configure(home=home, reset=True)
    with pytest.raises(InvalidFilter, match="ASC or DESC|backtick") as info:
        nbmlops.runs("search", order_by=order)
    assert token in str(info.value)
