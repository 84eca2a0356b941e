"""``runs(filter=..., order_by=..., limit=...)``: Python-like and MLflow-style filters."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import nbmlops
from nbmlops.errors import InvalidFilter
from nbmlops.tracking.query import runs_page


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@dataclass
class Table:
    ids: dict[str, str]
    first_started: float  # between the first run's start and the second's
    middle: float  # between the second and the third run's start


RUNS = [
    # name, params, metrics, tags, fails
    (
        "svm-a",
        {"C": 0.5, "kernel": "rbf"},
        {"accuracy": 0.95, "f1-macro": 0.85},
        {"team": "risk", "my-tag": "x", "note": "a=b AND c"},
        False,
    ),
    ("svm-b", {"C": 1.0, "kernel": "linear"}, {"accuracy": 0.92}, {"team": "growth"}, False),
    (
        "svm-c",
        {"C": 0.5, "kernel": "linear"},
        {"accuracy": 0.80, "f1-macro": 0.7},
        {"team": "risk"},
        False,
    ),
    ("crashed", {"C": 2.0}, {}, {}, True),
]


@pytest.fixture
def table(backend) -> Table:
    ids: dict[str, str] = {}
    marks: list[float] = []
    for name, params, metrics, tags, fails in RUNS:
        if ids:
            time.sleep(0.005)
            marks.append(time.time())
            time.sleep(0.005)
        try:
            with nbmlops.start_run(name=name, tags=tags) as run:
                ids[name] = run.run_id
                nbmlops.log_params(params)
                if metrics:
                    nbmlops.log_metrics(metrics)
                if fails:
                    raise RuntimeError("crash")
        except RuntimeError:
            pass
    return Table(ids, marks[0], marks[1])


def names(frame: pd.DataFrame) -> set[str]:
    return set(frame["name"])


def ordered(frame: pd.DataFrame) -> list[str]:
    return frame["name"].tolist()


# -- boolean logic ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.accuracy > 0.9 and params.C == 0.5", {"svm-a"}),
        ("metrics.accuracy > 0.9", {"svm-a", "svm-b"}),
        ("metrics.accuracy >= 0.92", {"svm-a", "svm-b"}),
        ("metrics.accuracy < 0.9 or params.C > 1.5", {"svm-c", "crashed"}),
        ("params.C == 0.5 or params.kernel == 'linear'", {"svm-a", "svm-b", "svm-c"}),
        ("not (params.C == 0.5)", {"svm-b", "crashed"}),
        ("not params.kernel == 'rbf' and params.C < 1", {"svm-c"}),
        ("params.C in [0.5, 2.0]", {"svm-a", "svm-c", "crashed"}),
        ("params.C not in [0.5]", {"svm-b", "crashed"}),
        ("params.kernel in ('rbf',)", {"svm-a"}),
        ("0.9 < metrics.accuracy", {"svm-a", "svm-b"}),  # constant on the left
        ("0.85 < metrics.accuracy < 0.94", {"svm-b"}),  # chained comparison
        ("(params.C == 0.5 or params.C == 1.0) and metrics.accuracy > 0.9", {"svm-a", "svm-b"}),
    ],
)
def test_python_style_filters(table, text, expected):
    assert names(nbmlops.runs(filter=text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.accuracy > 0.9 AND params.C = 0.5", {"svm-a"}),
        ("params.kernel = 'linear' OR params.C = 2.0", {"svm-b", "svm-c", "crashed"}),
        ("NOT params.kernel = 'rbf' AND params.C = 0.5", {"svm-c"}),
        ("status IN ('FAILED', 'KILLED')", {"crashed"}),
        ("tags.team = 'risk'", {"svm-a", "svm-c"}),
        ("tags.team != 'risk'", {"svm-b"}),
        ("tags.note = 'a=b AND c'", {"svm-a"}),  # '=' and AND inside a string stay as they are
        ('tags.note == "a=b AND c"', {"svm-a"}),
        ("metrics.accuracy <= 0.8", {"svm-c"}),
    ],
)
def test_mlflow_style_filters(table, text, expected):
    assert names(nbmlops.runs(filter=text)) == expected


def test_backticks_quote_names_with_dashes(table):
    assert names(nbmlops.runs(filter="`metrics.f1-macro` >= 0.8")) == {"svm-a"}
    assert names(nbmlops.runs(filter="`metrics.f1-macro` > 0")) == {"svm-a", "svm-c"}
    assert names(nbmlops.runs(filter="`tags.my-tag` == 'x' and metrics.accuracy > 0.9")) == {
        "svm-a"
    }


def test_string_equality_on_status_name_and_tags(table):
    assert names(nbmlops.runs(filter="status == 'FINISHED'")) == {"svm-a", "svm-b", "svm-c"}
    assert names(nbmlops.runs(filter="status == 'FAILED'")) == {"crashed"}
    assert names(nbmlops.runs(filter='name == "svm-b"')) == {"svm-b"}
    assert names(nbmlops.runs(filter="tags.team == 'growth'")) == {"svm-b"}
    assert names(nbmlops.runs(filter="params.kernel == 'poly'")) == set()
    assert names(nbmlops.runs(filter="experiment == 'default'")) == {r[0] for r in RUNS}
    run_id = table.ids["svm-c"]
    assert names(nbmlops.runs(filter=f"run_id == '{run_id}'")) == {"svm-c"}


def test_param_types_are_respected(backend):
    with nbmlops.start_run(name="as-string"):
        nbmlops.log_param("C", "0.5")
    with nbmlops.start_run(name="as-number"):
        nbmlops.log_param("C", 0.5)
    assert names(nbmlops.runs(filter="params.C == 0.5")) == {"as-number"}
    # Quoted: the text MLflow would store for either, str(0.5) == '0.5'.
    assert names(nbmlops.runs(filter="params.C == '0.5'")) == {"as-string", "as-number"}
    assert names(nbmlops.runs(filter="params.C > 0.1")) == {"as-number"}


def test_dates_compare_with_start_time(table):
    everything = {r[0] for r in RUNS}
    assert names(nbmlops.runs(filter="start_time > '2000-01-01'")) == everything
    assert names(nbmlops.runs(filter="start_time < '2000-01-01'")) == set()
    middle = pd.Timestamp(table.middle, unit="s", tz="UTC")
    later = {"svm-c", "crashed"}
    assert names(nbmlops.runs(filter=f"start_time >= '{middle.isoformat()}'")) == later
    assert names(nbmlops.runs(filter=f"start_time < '{middle.isoformat()}'")) == {"svm-a", "svm-b"}
    # A string without a zone is UTC; one with an offset means the same instant.
    naive = middle.tz_localize(None).isoformat()
    assert names(nbmlops.runs(filter=f"start_time > '{naive}'")) == later
    shifted = middle.tz_convert("Etc/GMT-2").isoformat()  # UTC+02:00
    assert "+02:00" in shifted
    assert names(nbmlops.runs(filter=f"start_time > '{shifted}'")) == later
    first = pd.Timestamp(table.first_started, unit="s", tz="UTC").isoformat()
    assert names(nbmlops.runs(filter=f"start_time < '{first}'")) == {"svm-a"}


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "metrics.accuracy >",
        "metrics.accuracy > > 1",
        "and",
        "((params.C == 1)",
        "metrics.accuracy",
        "params.C == 0.5 and",
        "1 == 1",
        "metrics.accuracy > metrics.accuracy",
        "status in 'FAILED'",
        "params.C + 1 > 2",
        "start_time > 'not a date'",
        "__import__('os').system('true') == 0",
    ],
)
def test_invalid_filters_are_invalid_filter(table, text):
    with pytest.raises(InvalidFilter) as info:
        nbmlops.runs(filter=text)
    assert isinstance(info.value, ValueError)


def test_non_string_filter_is_invalid_filter(table):
    with pytest.raises(InvalidFilter):
        nbmlops.runs(filter=42)  # type: ignore[arg-type]


def test_unknown_column_suggests_the_close_one(table):
    with pytest.raises(InvalidFilter, match="metrics.accuracy") as info:
        nbmlops.runs(filter="metrics.acuracy > 0.9")
    assert "did you mean" in str(info.value)
    with pytest.raises(InvalidFilter, match="params.kernel"):
        nbmlops.runs(filter="params.kernal == 'rbf'")
    with pytest.raises(InvalidFilter, match="metrics.<key>"):
        nbmlops.runs(filter="zzzz == 1")


def test_filter_on_an_empty_workspace_matches_nothing(backend):
    frame = nbmlops.runs(filter="metrics.anything > 0.5")
    assert frame.empty


def test_rows_missing_a_value_never_match(table):
    with_accuracy = {"svm-a", "svm-b", "svm-c"}
    assert names(nbmlops.runs(filter="metrics.accuracy < 100")) == with_accuracy
    assert names(nbmlops.runs(filter="metrics.accuracy > -100")) == with_accuracy
    assert names(nbmlops.runs(filter="metrics.accuracy != 0.5")) == with_accuracy
    assert names(nbmlops.runs(filter="metrics.accuracy not in [0.5]")) == with_accuracy
    assert names(nbmlops.runs(filter="tags.team != 'nobody'")) == {"svm-a", "svm-b", "svm-c"}
    assert names(nbmlops.runs(filter="params.kernel != 'rbf'")) == {"svm-b", "svm-c"}
    assert names(nbmlops.runs(filter="`metrics.f1-macro` < 1")) == {"svm-a", "svm-c"}


def test_nan_metric_never_matches(backend):
    with nbmlops.start_run(name="nan"):
        nbmlops.log_metric("loss", math.nan)
    with nbmlops.start_run(name="number"):
        nbmlops.log_metric("loss", 0.5)
    assert names(nbmlops.runs(filter="metrics.loss < 1")) == {"number"}
    assert names(nbmlops.runs(filter="metrics.loss != 0.25")) == {"number"}
    assert names(nbmlops.runs(filter="metrics.loss >= 0 or metrics.loss < 0")) == {"number"}


# -- order_by and limit -----------------------------------------------------------------------


def test_default_order_is_newest_first(table):
    assert ordered(nbmlops.runs()) == ["crashed", "svm-c", "svm-b", "svm-a"]


def test_order_by(table):
    assert ordered(nbmlops.runs(order_by="metrics.accuracy DESC")) == [
        "svm-a",
        "svm-b",
        "svm-c",
        "crashed",
    ]  # missing values last
    assert ordered(nbmlops.runs(order_by="metrics.accuracy")) == [
        "svm-c",
        "svm-b",
        "svm-a",
        "crashed",
    ]
    assert ordered(nbmlops.runs(order_by="metrics.accuracy asc")) == [
        "svm-c",
        "svm-b",
        "svm-a",
        "crashed",
    ]
    assert ordered(nbmlops.runs(order_by="params.C ASC, metrics.accuracy DESC")) == [
        "svm-a",
        "svm-c",
        "svm-b",
        "crashed",
    ]
    assert ordered(nbmlops.runs(order_by=["params.C DESC", "metrics.accuracy"])) == [
        "crashed",
        "svm-b",
        "svm-c",
        "svm-a",
    ]
    assert ordered(nbmlops.runs(order_by="name")) == ["crashed", "svm-a", "svm-b", "svm-c"]
    assert ordered(nbmlops.runs(order_by="start_time")) == ["svm-a", "svm-b", "svm-c", "crashed"]
    assert ordered(nbmlops.runs(order_by="`metrics.f1-macro` DESC"))[:2] == ["svm-a", "svm-c"]


def test_empty_filter_is_every_run(table):
    # MLflow's meaning: "" (or only spaces) filters nothing.
    everything = ordered(nbmlops.runs())
    assert ordered(nbmlops.runs(filter="")) == everything
    assert ordered(nbmlops.runs(filter="   ")) == everything
    assert runs_page(filter="").total == len(everything)


def test_order_by_a_key_no_run_has_orders_nothing(table):
    # MLflow's meaning: the runs come newest first, as without an order.
    assert ordered(nbmlops.runs(order_by="metrics.acuracy DESC")) == ordered(nbmlops.runs())
    assert list(runs_page(order_by="tags.noSuchTag").frame["name"]) == ordered(nbmlops.runs())


def test_limit(table):
    assert ordered(nbmlops.runs(limit=2)) == ["crashed", "svm-c"]
    assert ordered(nbmlops.runs(order_by="metrics.accuracy DESC", limit=1)) == ["svm-a"]
    assert len(nbmlops.runs(limit=100)) == len(RUNS)
    empty = nbmlops.runs(limit=0)
    assert empty.empty and list(empty.columns)[:2] == ["run_id", "experiment"]
    # The limit applies after the filter.
    assert ordered(
        nbmlops.runs(filter="params.C == 0.5", order_by="metrics.accuracy", limit=1)
    ) == ["svm-c"]
    assert ordered(nbmlops.runs(filter="status == 'FAILED'", limit=3)) == ["crashed"]


@pytest.mark.parametrize("limit", [-1, 1.5, "2", True])
def test_bad_limit_is_invalid_filter(table, limit):
    with pytest.raises(InvalidFilter):
        nbmlops.runs(limit=limit)


def test_filter_with_experiment(backend):
    with nbmlops.start_run(experiment="a", name="a-good"):
        nbmlops.log_metric("acc", 0.9)
    with nbmlops.start_run(experiment="b", name="b-good"):
        nbmlops.log_metric("acc", 0.95)
    assert names(nbmlops.runs(experiment="a", filter="metrics.acc > 0.5")) == {"a-good"}
    assert names(nbmlops.runs(filter="metrics.acc > 0.5")) == {"a-good", "b-good"}


@pytest.mark.parametrize("key", ["lambda", "class", "from", "OR"])
def test_keys_that_are_python_keywords_can_be_filtered(backend, key):
    # XGBoost's `lambda`, a `class` label: valid nbmlops keys, usable in MLflow filters as is.
    with nbmlops.start_run(name="keyword"):
        nbmlops.log_param(key, 0.1)
    with nbmlops.start_run(name="other"):
        nbmlops.log_param(key, 1.0)
    assert names(nbmlops.runs(filter=f"`params.{key}` == 0.1")) == {"keyword"}
    assert names(nbmlops.runs(filter=f"params.{key} == 0.1")) == {"keyword"}
    assert names(nbmlops.runs(filter=f"params.{key} = 0.1")) == {"keyword"}


# -- quoted values and params: MLflow's meaning ----------------------------------------------


@pytest.fixture
def typed_params(backend) -> dict[str, str]:
    ids = {}
    for name, params in [
        ("half", {"C": 0.5, "max_iter": 200, "fit_intercept": True, "solver": "lbfgs"}),
        ("one", {"C": 1, "max_iter": 100, "fit_intercept": False, "solver": None}),
        ("bare", {"solver": "saga"}),
    ]:
        with nbmlops.start_run(name=name) as run:
            ids[name] = run.run_id
            nbmlops.log_params(params)
    return ids


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.C = '0.5'", {"half"}),
        ("params.C = '1'", {"one"}),
        ("params.C = '1.0'", set()),  # MLflow stores str(1) == '1'
        ("params.max_iter = '200'", {"half"}),
        ("params.max_iter != '200'", {"one"}),  # never the run whose max_iter is 200
        ("params.fit_intercept = 'True'", {"half"}),
        ("params.fit_intercept = 'true'", set()),
        ("params.solver = 'None'", {"one"}),
        ("params.solver != 'lbfgs'", {"one", "bare"}),
        ("params.max_iter in ('100', '200')", {"half", "one"}),
        ("params.max_iter not in ('200',)", {"one"}),
        ("params.max_iter in ['200', 100]", {"half", "one"}),  # quoted: text, unquoted: typed
        # Unquoted numbers keep the typed comparison.
        ("params.C == 0.5", {"half"}),
        ("params.max_iter == 200", {"half"}),
        ("params.max_iter != 200", {"one"}),
        ("params.max_iter >= 150", {"half"}),
    ],
)
def test_a_quoted_value_is_compared_with_the_param_as_mlflow_stores_it(
    typed_params, text, expected
):
    assert names(nbmlops.runs(filter=text)) == expected
    # The paged reader behind the panel and the REST API gives the same rows.
    page = runs_page(filter=text, limit=10)
    assert set(page.frame["name"]) == expected and page.total == len(expected)


def test_params_read_back_as_logged_when_a_run_lacks_them(typed_params):
    frame = nbmlops.runs().set_index("name")
    assert frame.loc["half", "params.max_iter"] == 200
    assert type(frame.loc["half", "params.max_iter"]) is int  # not 200.0
    assert frame.loc["one", "params.C"] == 1 and type(frame.loc["one", "params.C"]) is int
    assert frame.loc["one", "params.solver"] is None and pd.isna(frame.loc["bare", "params.C"])


def test_a_quoted_value_against_a_metric_is_invalid(table):
    with pytest.raises(InvalidFilter, match="without quotes"):
        nbmlops.runs(filter="metrics.accuracy > '0.9'")


@pytest.mark.parametrize(
    "text", ["not " * 3000 + "status == 'FAILED'", "(" * 5000 + "x"], ids=["not", "parens"]
)
def test_deeply_nested_filter_is_invalid_filter(table, text):
    with pytest.raises(InvalidFilter, match="nests too deeply|cannot parse"):
        nbmlops.runs(filter=text)
    with pytest.raises(InvalidFilter):
        runs_page(filter=text)


_VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),  # NaN is documented to match like a missing value
    st.booleans(),
    st.none(),
    st.text(max_size=20),
    st.lists(st.one_of(st.integers(-5, 5), st.floats(-2, 2), st.text(max_size=3)), max_size=3),
)
_experiment_numbers = iter(range(10**6))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=st.lists(_VALUES, min_size=1, max_size=4), pick=st.integers(0, 3))
def test_quoted_param_filter_finds_exactly_the_runs_with_that_text(workspace, values, pick):
    target = str(values[pick % len(values)])  # what mlflow.log_param stores: str(value)
    literal = repr(target)
    assume(not ("'" in target and '"' in target))  # the filter syntax has no escaped quotes
    experiment = f"fuzz-{next(_experiment_numbers)}"
    expected = set()
    for i, value in enumerate(values):
        with nbmlops.start_run(experiment=experiment, name=f"r{i}"):
            nbmlops.log_param("x", value)
        if str(value) == target:
            expected.add(f"r{i}")
    found = nbmlops.runs(experiment=experiment, filter=f"params.x = {literal}")
    assert names(found) == expected
    others = nbmlops.runs(experiment=experiment, filter=f"params.x != {literal}")
    assert names(others) == {f"r{i}" for i in range(len(values))} - expected


def test_quoted_values_with_control_characters_split_runs_exactly(backend):
    # Found by the fuzz above: `!=` compared the database's JSON-to-text of the param, which
    # SQLite cuts at a NUL, so `params.x != '\\x00'` also matched the run whose x is "\\x00".
    values = ["\x00", "a\x00b", "a", "\x1f", "\u202e"]
    for i, value in enumerate(values):
        with nbmlops.start_run(experiment="controls", name=f"r{i}"):
            nbmlops.log_param("x", value)
    everyone = {f"r{i}" for i in range(len(values))}
    for i, value in enumerate(values):
        literal = repr(value)
        same = names(nbmlops.runs(experiment="controls", filter=f"params.x = {literal}"))
        other = names(nbmlops.runs(experiment="controls", filter=f"params.x != {literal}"))
        assert same == {f"r{i}"}, literal
        assert other == everyone - {f"r{i}"}, literal
    if backend == "postgres":
        # PostgreSQL cannot give U+0000 as text: those queries go to the pandas evaluator
        # instead of failing (SQLite's JSON functions cut the text there: docs/tracking.md).
        like = nbmlops.runs(experiment="controls", filter="params.x LIKE '%b%'")
        assert names(like) == {"r1"}
        assert names(nbmlops.runs(experiment="controls", filter="params.x > 'a'")) == {"r1", "r4"}
        ordered = nbmlops.runs(experiment="controls", order_by="params.x")
        assert list(ordered["name"]) == ["r0", "r3", "r2", "r1", "r4"]


def test_datasets_filters_read_the_runs_input_data(backend):
    """datasets.name / digest / context: any input of the run satisfying the comparison."""
    frame = pd.DataFrame({"x": [1, 2, 3]})
    other = pd.DataFrame({"x": [4, 5]})
    with nbmlops.start_run(name="both") as run:
        run.log_input(frame, "X_train", info={"context": "train"})
        run.log_input(other, "X_test")
    with nbmlops.start_run(name="one") as run:
        run.log_input(other, "X_test", info={"context": "test"})
    nbmlops.start_run(name="none").end()
    digest = nbmlops.get_run(run.run_id).inputs["X_test"]["digest"]

    def found(text):
        return sorted(nbmlops.runs(filter=text)["name"])

    assert found("datasets.name = 'X_train'") == ["both"]
    assert found(f"datasets.digest = '{digest}'") == ["both", "one"]
    assert found("dataset.context = 'test'") == ["one"]
    assert found("datasets.context != 'test'") == ["both"]  # an input without context: never
    assert found("datasets.name LIKE 'X_%' AND datasets.context = 'train'") == ["both"]
    assert found("datasets.name NOT IN ('X_test')") == ["both"]
    assert found("datasets.name ILIKE 'x_test' OR metrics.nothing > 1") == ["both", "one"]
    assert sorted(runs_page(filter="datasets.name = 'X_test'").frame["name"]) == ["both", "one"]
    assert "datasets" not in nbmlops.runs(filter="datasets.name = 'X_test'").columns


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("datasets.profile = 'x'", "datasets.name, datasets.digest, datasets.context"),
        ("datasets.name > 'a'", "=, !=, IN, NOT IN, LIKE or ILIKE"),
        ("datasets.name IS NULL", "datasets.name = 'train'"),
        ("datasets.name = 5", "datasets.name = '5'"),
        ("tags.team = 5", "tags.team = '5'"),
        ("status IN (1, 2)", "status IN ('1')"),
    ],
)
def test_datasets_and_text_columns_refuse_what_mlflow_refuses(table, text, says):
    with pytest.raises(InvalidFilter, match="cannot use filter") as info:
        nbmlops.runs(filter=text)
    assert says in str(info.value)


def test_a_key_no_run_has_matches_nothing_and_a_near_miss_is_a_typo(table):
    assert nbmlops.runs(filter="metrics.rmse < 1").empty  # MLflow's meaning
    assert nbmlops.runs(filter="tags.absent_entirely = 'x' OR tags.team = 'risk'").shape[0] == 2
    assert runs_page(filter="params.zzz_unrelated = 'a'").total == 0
    with pytest.raises(InvalidFilter, match="did you mean metrics.accuracy"):
        runs_page(filter="metrics.acuracy > 0.9")
    with pytest.raises(InvalidFilter):
        nbmlops.runs(filter="zzzz = 'a'")  # a bare name that is no attribute, as in MLflow
    with pytest.raises(InvalidFilter, match="cannot order by"):
        nbmlops.runs(order_by="datasets.name")
