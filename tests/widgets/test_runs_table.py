"""The Runs tab driven through its widget models as the browser drives them: filter,
experiment, header clicks (a ``sort`` message), ticked rows (the synced ``selected`` trait),
the column chooser (a ``column`` message), the constant-column toggle, paging."""

from __future__ import annotations

import pytest

import nbmlops
from nbmlops.errors import NbmlopsError
from nbmlops.widgets import Panel, RunGrid, RunsTable


def _names(table: RunsTable) -> list[str]:
    return list(table.page.frame["name"])


def click_header(grid: RunGrid, column: str) -> None:
    """What the browser sends when a header cell is clicked."""
    grid._handle_custom_msg({"event": "sort", "key": column}, [])


def choose_column(grid: RunGrid, column: str, shown: bool) -> None:
    """What the browser sends when a box of the column chooser is ticked or cleared."""
    grid._handle_custom_msg({"event": "column", "key": column, "shown": shown}, [])


def browser_sets(grid: RunGrid, **state) -> None:
    """A synced trait changed in the browser (a comm ``update`` message)."""
    grid.set_state(state)


def cells(grid: RunGrid, column: str) -> list[str]:
    i = grid.shown_columns.index(column)
    return [row["cells"][i] for row in grid.rows]


def test_filter_experiment_sort_and_page(runs7):
    table = RunsTable(page_size=3)
    assert table.page.total == 7 and table.page_label.value.count("of 7") == 1
    assert _names(table) == ["run-6", "run-5", "run-4"]  # newest first
    assert table.prev_button.disabled and not table.next_button.disabled
    assert cells(table.grid, "status") == ["FINISHED"] * 3

    table.filter.value = "metrics.accuracy > 0.6 and params.C >= 1"
    expected = nbmlops.runs(filter="metrics.accuracy > 0.6 and params.C >= 1")
    assert table.page.total == len(expected) == 2
    assert _names(table) == list(expected["name"])

    table.filter.value = ""
    click_header(table.grid, "metrics.accuracy")  # best first
    assert _names(table) == ["run-6", "run-5", "run-4"]
    assert table.grid.order_by == ["metrics.accuracy", True]
    click_header(table.grid, "metrics.accuracy")  # flips
    assert _names(table) == ["run-0", "run-1", "run-2"]
    table.next_button.click()
    assert _names(table) == ["run-3", "run-4", "run-5"] and table.page.page == 1
    table.last_button.click()
    assert _names(table) == ["run-6"] and table.next_button.disabled
    table.first_button.click()
    assert table.page.offset == 0

    click_header(table.grid, "params.C")  # a param: sorted like runs(order_by=...)
    assert _names(table) == list(nbmlops.runs(order_by="params.C ASC")["name"][:3])

    table.experiment.value = "search"
    assert table.page.total == 3 and set(table.page.frame["experiment"]) == {"search"}


def test_experiment_selector_shows_its_value(runs7):
    """ipywidgets shows a Dropdown whose value is None as blank: "all experiments" must be
    a real option that is selected."""
    table = RunsTable()
    assert table.experiment.index == 0 and table.experiment.label == "all experiments"
    table.experiment.value = "search"
    assert table.experiment.label == "search" and table.page.total == 3
    table.refresh()
    assert table.experiment.label == "search"
    opened = RunsTable(experiment="baseline")
    assert opened.experiment.label == "baseline" and opened.page.total == 4


def test_bad_filter_shows_the_error_and_keeps_the_page(runs7):
    table = RunsTable(page_size=3)
    table.filter.value = "metrics.acuracy > 0.5"
    assert "did you mean metrics.accuracy" in table.message.value
    assert table.page.total == 7
    with pytest.raises(NbmlopsError, match="no experiment named"):
        RunsTable(experiment="nope")


def test_selecting_two_runs_across_pages_opens_compare(runs7):
    panel = Panel(page_size=3)
    table = panel.runs
    assert table.compare_button.disabled
    browser_sets(table.grid, selected=[runs7[6]])
    table.next_button.click()
    browser_sets(table.grid, selected=[runs7[6], runs7[2]])
    assert table.selected == [runs7[6], runs7[2]]
    assert not table.compare_button.disabled
    table.first_button.click()
    assert table.grid.selected == [runs7[6], runs7[2]]  # the selection survives paging
    table.compare_button.click()
    assert panel.selected_index == 1
    assert panel.compare.comparison is not None
    assert [r.run_id for r in panel.compare.comparison.runs] == [runs7[6], runs7[2]]
    browser_sets(table.grid, selected=[runs7[2]])
    assert table.selected == [runs7[2]] and table.compare_button.disabled


def _forest_runs(n: int = 4) -> list[str]:
    """Runs as ``%%track`` records a RandomForest: the user's params, a metric, and the
    estimator's captured hyper-parameters ``model.*`` (``model.class`` marks them)."""
    ids = []
    for i in range(n):
        with nbmlops.start_run(name=f"rf-{i}", experiment="forest") as run:
            params = {
                "n_estimators": [50, 100, 200, 400][i],
                "lr": [0.1, 0.05, 0.2, 0.01][i],
                "features": "all",  # constant across the runs
                "model.class": "sklearn.ensemble._forest.RandomForestClassifier",
                "model.n_estimators": [50, 100, 200, 400][i],
                "model.bootstrap": True,
                "model.max_depth": None,
                "model.min_samples_leaf": 1,
                "model.criterion": "gini",
            }
            if i != 1:
                params["depth"] = [3, 5, 8, 13][i]  # run 1 has none: NaN makes the column float
            run.log_params(params)
            run.log_metric("accuracy", [0.9737, 0.95, 0.958, 0.96][i])
            run.log_metric("loss", [0.5, 0.25, 0.125, 1 / 3][i])
            run.set_tag("team", "risk")
            ids.append(run.run_id)
    return ids


def test_groups_order_and_constant_columns(workspace):
    _forest_runs()
    grid = RunsTable().grid
    groups = [(c["group"], c["label"]) for c in grid.columns]
    assert groups == [
        ("attributes", "run"),
        ("attributes", "name"),
        ("attributes", "experiment"),
        ("attributes", "status"),
        ("attributes", "started"),
        ("attributes", "duration (s)"),
        ("params", "depth"),
        ("params", "lr"),
        ("params", "n_estimators"),
        ("metrics", "accuracy"),
        ("metrics", "loss"),
        ("model", "n_estimators"),
    ], "the user's params and metrics come first; constant columns and tags are hidden"
    captured = next(c for c in grid.columns if c["group"] == "model")
    assert captured["group_label"] == "model: RandomForestClassifier"
    constant = {c["key"] for c in grid.choices if c["constant"]}
    assert constant == {
        "params.features",
        "params.model.class",
        "params.model.bootstrap",
        "params.model.max_depth",
        "params.model.min_samples_leaf",
        "params.model.criterion",
        "tags.team",
    }
    assert grid.constant_count == len(constant)

    browser_sets(grid, show_constant=True)
    keys = grid.shown_columns
    assert "params.features" in keys and "params.model.criterion" in keys
    assert keys.index("params.model.class") < keys.index("params.model.bootstrap"), "class first"
    assert "tags.team" not in keys, "tags only when chosen"
    browser_sets(grid, show_constant=False)
    assert "params.features" not in grid.shown_columns

    choose_column(grid, "tags.team", True)
    choose_column(grid, "params.lr", False)
    choose_column(grid, "params.model.criterion", True)
    keys = grid.shown_columns
    assert "tags.team" in keys and "params.model.criterion" in keys and "params.lr" not in keys
    assert keys[-1] == "tags.team"
    assert {c["key"]: c["shown"] for c in grid.choices}["params.lr"] is False


def test_numbers_right_aligned_with_one_precision_and_integers_as_integers(workspace):
    _forest_runs()
    grid = RunsTable().grid
    align = {c["key"]: c["align"] for c in grid.columns}
    # newest first: rf-3, rf-2, rf-1, rf-0
    assert cells(grid, "params.depth") == ["13", "8", "—", "3"], "50, not 50.0, beside NaN"
    assert cells(grid, "params.n_estimators") == ["400", "200", "100", "50"]
    assert cells(grid, "params.lr") == ["0.01", "0.20", "0.05", "0.10"]
    assert cells(grid, "metrics.accuracy") == ["0.9600", "0.9580", "0.9500", "0.9737"]
    assert cells(grid, "metrics.loss") == ["0.3333", "0.1250", "0.2500", "0.5000"]
    assert all(align[k] == "right" for k in ("params.depth", "metrics.loss", "duration_s"))
    assert align["name"] == "left" and align["status"] == "left"
    assert all(len(row["cells"]) == len(grid.columns) for row in grid.rows)


def test_mixed_types_under_one_param(workspace):
    for i, value in enumerate([1, 2.5, "abc", None, [1, 2]]):
        with nbmlops.start_run(name=f"mixed-{i}") as run:
            run.log_param("p", value)
    grid = RunsTable().grid
    assert cells(grid, "params.p") == ["[1, 2]", "—", "abc", "2.5", "1"]
    assert {c["key"]: c["align"] for c in grid.columns}["params.p"] == "left"


def test_static_html_is_one_table_with_groups(workspace):
    _forest_runs()
    table = RunsTable()
    html = table.to_html()
    assert html.count("<table") == 1 and html.count("<thead") == 1
    assert "position:sticky" in html and "white-space:nowrap" in html
    assert '<th colspan="3"' in html and "model: RandomForestClassifier" in html
    assert ">13</td>" in html and "13.0" not in html
    assert "7 columns with one value across these runs are hidden" in html
    assert "features=all" in html


def test_a_grid_over_a_frame_sorts_it(workspace):
    _forest_runs()
    grid = RunGrid(nbmlops.runs(), selectable=False)
    click_header(grid, "metrics.loss")  # a metric: largest first
    assert cells(grid, "name") == ["rf-0", "rf-3", "rf-1", "rf-2"]
    click_header(grid, "metrics.loss")
    assert cells(grid, "name") == ["rf-2", "rf-1", "rf-3", "rf-0"]
    click_header(grid, "name")  # text: A→Z first
    assert cells(grid, "name") == ["rf-0", "rf-1", "rf-2", "rf-3"]


def test_runs_magic_displays_the_run_table(shell):
    import pandas as pd

    shell.run_cell("%%track -n small\nn_estimators = 50\nscore = 0.5 + 0.25\n")
    shell.run_cell("%%track -n none\nscore = 0.5 + 0.5\n")  # no n_estimators: NaN → float
    table = shell.run_line_magic("runs", "")
    assert isinstance(table, pd.DataFrame) and list(table["name"]) == ["none", "small"]
    assert type(table.head(1)) is pd.DataFrame  # what pandas derives from it is plain
    data, _ = shell.display_formatter.format(table)
    html = data["text/html"]
    assert html.count("<table") == 1 and "position:sticky" in html
    assert ">params</th>" in html and ">metrics</th>" in html
    assert ">50</td>" in html and "50.0" not in html
    assert ">0.75</td>" in html and ">1.00</td>" in html
    assert "[2 rows x 8 columns]" in data["text/plain"]  # pandas' own text


def test_a_column_set_in_some_runs_only_counts_as_constant(workspace):
    """Captured ``model.*`` params of a forest beside runs that fitted something else: one
    value wherever they are set, so hidden; a param that differs where set is shown. A
    user's param set in one run only is a difference: shown."""
    _forest_runs(2)
    with nbmlops.start_run(name="linear", experiment="forest") as run:
        run.log_params({"clf.class": "sklearn.linear_model.LogisticRegression", "clf.C": 1.0})
        run.log_param("solver", "lbfgs")
    grid = RunsTable().grid
    keys = grid.shown_columns
    assert "params.solver" in keys
    assert "params.model.bootstrap" not in keys and "params.clf.C" not in keys
    assert "params.model.n_estimators" in keys and "params.n_estimators" in keys
    groups = {c["group"]: c["group_label"] for c in grid.choices}
    assert groups["model"] == "model: RandomForestClassifier"
    assert groups["clf"] == "clf: LogisticRegression"
