"""The Runs tab driven through its widget model: filter, experiment, sort, page, select."""

from __future__ import annotations

import pytest

import nbmlops
from nbmlops.errors import NbmlopsError
from nbmlops.widgets import Panel, RunsTable


def _names(table: RunsTable) -> list[str]:
    return list(table.page.frame["name"])


def test_filter_experiment_sort_and_page(runs7):
    table = RunsTable(page_size=3)
    assert table.page.total == 7 and table.page_label.value.count("of 7") == 1
    assert _names(table) == ["run-6", "run-5", "run-4"]  # newest first
    assert table.prev_button.disabled and not table.next_button.disabled
    assert "FINISHED" in table.row_html[0].value  # status badge

    table.filter.value = "metrics.accuracy > 0.6 and params.C >= 1"
    expected = nbmlops.runs(filter="metrics.accuracy > 0.6 and params.C >= 1")
    assert table.page.total == len(expected) == 2
    assert _names(table) == list(expected["name"])

    table.filter.value = ""
    table.sort_buttons["metrics.accuracy"].click()  # best first
    assert _names(table) == ["run-6", "run-5", "run-4"]
    assert table.sort_buttons["metrics.accuracy"].description == "accuracy ▼"
    table.sort_buttons["metrics.accuracy"].click()  # flips
    assert _names(table) == ["run-0", "run-1", "run-2"]
    table.next_button.click()
    assert _names(table) == ["run-3", "run-4", "run-5"] and table.page.page == 1
    table.last_button.click()
    assert _names(table) == ["run-6"] and table.next_button.disabled
    table.first_button.click()
    assert table.page.offset == 0

    table.sort_buttons["params.C"].click()  # a param: sorted like runs(order_by=...)
    assert _names(table) == list(nbmlops.runs(order_by="params.C ASC")["name"][:3])

    table.experiment.value = "search"
    assert table.page.total == 3 and set(table.page.frame["experiment"]) == {"search"}


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
    table.row_checks[0].value = True
    table.next_button.click()
    table.row_checks[1].value = True
    assert table.selected == [runs7[6], runs7[2]]
    assert not table.compare_button.disabled
    table.first_button.click()
    assert table.row_checks[0].value is True  # the selection survives paging
    table.compare_button.click()
    assert panel.selected_index == 1
    assert panel.compare.comparison is not None
    assert [r.run_id for r in panel.compare.comparison.runs] == [runs7[6], runs7[2]]
    table.row_checks[0].value = False
    assert table.selected == [runs7[2]] and table.compare_button.disabled
