"""runs_page: one page of runs() computed in SQL (no filter) or over only the columns read."""

from __future__ import annotations

import pandas as pd
import pytest

import nbmlops
from nbmlops.errors import InvalidFilter
from nbmlops.tracking.query import runs_page


@pytest.fixture
def many_runs(workspace):
    for i in range(23):
        experiment = "a" if i % 3 else "b"
        with nbmlops.start_run(name=f"r{i:02d}", experiment=experiment) as run:
            run.log_params({"C": [0.1, 1.0, 10.0][i % 3], "kind": "tree" if i % 2 else "lin"})
            if i != 7:  # one run without the metric: sorts last either way
                run.log_metric("acc", (i * 37 % 23) / 23)
            run.set_tag("team", "x" if i % 4 else "y")
    return workspace


def _same(page, full, offset, limit):
    expected = full.iloc[offset : offset + limit].reset_index(drop=True)
    assert list(page.frame["run_id"]) == list(expected["run_id"])
    pd.testing.assert_frame_equal(page.frame[expected.columns], expected, check_dtype=False)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"order_by": "metrics.acc DESC"},
        {"order_by": "metrics.acc"},
        {"order_by": "name"},
        {"order_by": "params.C DESC, name"},
        {"filter": "metrics.acc > 0.3"},
        {"filter": "params.kind == 'tree' and tags.team = 'x'", "order_by": "metrics.acc DESC"},
        {"experiment": "a", "order_by": "metrics.acc DESC"},
        {"experiment": "b", "filter": "params.C >= 1"},
    ],
)
def test_pages_equal_slices_of_runs(many_runs, kwargs):
    full = nbmlops.runs(**kwargs)
    for offset in (0, 5, 20):
        page = runs_page(**kwargs, offset=offset, limit=5)
        assert page.total == len(full)
        _same(page, full, offset, 5)


def test_columns_are_those_of_the_whole_selection(many_runs):
    page = runs_page(filter="name == 'r07'", limit=5)
    assert page.total == 1
    assert "metrics.acc" in page.frame.columns and pd.isna(page.frame.loc[0, "metrics.acc"])
    assert page.columns == list(nbmlops.runs().columns)
    assert (page.page, page.pages) == (0, 1)


def test_page_past_the_end_is_empty_with_the_total(many_runs):
    page = runs_page(offset=100, limit=10)
    assert page.total == 23 and page.frame.empty and page.pages == 3
    assert list(page.frame.columns) == page.columns


def test_bad_input_is_invalid_filter(many_runs):
    with pytest.raises(InvalidFilter, match="did you mean metrics.acc"):
        runs_page(filter="metrics.accc > 1")
    # An order on a key no run has orders nothing (MLflow's meaning): newest first.
    assert list(runs_page(order_by="params.nope").frame["run_id"]) == list(
        runs_page().frame["run_id"]
    )
    with pytest.raises(InvalidFilter, match="limit"):
        runs_page(limit=0)
    with pytest.raises(InvalidFilter, match="found the end of the filter"):
        runs_page(filter="metrics.acc >")


def test_empty_workspace(workspace):
    page = runs_page(filter="metrics.acc > 1", order_by="metrics.acc")
    assert page.total == 0 and page.frame.empty
