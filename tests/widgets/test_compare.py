"""Comparisons: side-by-side tables with differences, curves, parallel coordinates, code,
environment and data; the widget; %compare."""

from __future__ import annotations

import pytest

import nbmlops
from nbmlops.errors import CompareError
from nbmlops.widgets import CompareView


def test_tables_mark_what_differs(runs7):
    c = nbmlops.compare(runs7[0], runs7[3][:8])
    assert list(c.params.index) == ["C", "penalty"]
    assert c.params.loc["C", "differs"] == False  # noqa: E712 - both 0.1
    assert c.params.loc["penalty", "differs"] == True  # noqa: E712
    assert c.metrics.loc["accuracy", "differs"] == True  # noqa: E712
    assert c.data.loc["input: train", "differs"] == True  # noqa: E712 - 5 vs 6 rows
    assert c.environment["differs"].sum() == 0  # same process
    assert set(c.history["key"]) == {"loss", "accuracy"}
    assert c.code_diff() == ""  # same cell code (C = 0.1)
    html = c.to_html()
    assert "penalty" in html and "same code" in html and "#fff8c5" in html
    assert "param penalty: 'l1'  'l2'" in repr(c)


def test_code_diff_and_figures(runs7):
    c = nbmlops.compare(runs7[0], runs7[1], runs7[2])
    assert "-C = 0.1\n+C = 1.0" in c.code_diff(1)
    fig = c.history_figure("loss")
    assert [t.name for t in fig.data] == c.labels and list(fig.data[0].y) == [1.0, 0.5, 1 / 3]
    par = c.parallel_figure("accuracy")
    labels = [d.label for d in par.data[0].dimensions]
    assert labels == ["C", "penalty", "accuracy"]
    assert list(par.data[0].dimensions[2].values) == [0.5, 0.55, 0.6]
    with pytest.raises(CompareError, match="did you mean accuracy"):
        c.history_figure("acuracy")
    with pytest.raises(CompareError, match="two or more runs"):
        nbmlops.compare(runs7[0])


def test_view_switches_metric_and_code_pair(runs7):
    view = CompareView(nbmlops.compare(runs7[:3]))
    assert view.metric.value == "accuracy"
    view.metric.value = "loss"
    assert view.history.layout.title.text == "loss by step"
    assert len(view.history.data) == 3
    assert view.parallel.data[0].dimensions[-1].label == "loss"
    view.code_pair.value = 2
    assert "+C = 10.0" in view.code.value


def test_compare_magic(shell, runs7):
    shell.run_cell(f"c = %compare {runs7[0][:8]} {runs7[1][:8]}")
    c = shell.user_ns["c"]
    assert [r.run_id for r in c.runs] == runs7[:2]
    bundle = c._repr_mimebundle_()
    assert "text/html" in bundle and "Comparing 2 runs" in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" not in bundle  # no kernel: no widget
