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
    assert list(par.layout.xaxis.ticktext) == ["C", "penalty", "accuracy"]
    assert [t.customdata[2] for t in par.data] == [
        "accuracy = 0.5",
        "accuracy = 0.55",
        "accuracy = 0.6",
    ]
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
    assert view.parallel.layout.xaxis.ticktext[-1] == "loss"
    view.code_pair.value = 2
    assert "+C = 10.0" in view.code.value


def test_compare_magic(shell, runs7):
    shell.run_cell(f"c = %compare {runs7[0][:8]} {runs7[1][:8]}")
    c = shell.user_ns["c"]
    assert [r.run_id for r in c.runs] == runs7[:2]
    bundle = c._repr_mimebundle_()
    assert "text/html" in bundle and "Comparing 2 runs" in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" not in bundle  # no kernel: no widget


def _tuned_runs() -> list[str]:
    """Three runs as ``%%track`` records a tuned forest: two params differ, twenty captured
    ``model.*`` hyper-parameters do not; accuracy logged once, loss by epoch."""
    ids = []
    for i, (depth, leaf) in enumerate([(3, 1), (5, 1), (8, 4)]):
        with nbmlops.start_run(name=f"forest-with-a-rather-long-name-{i}") as run:
            params = {f"model.constant_hyper_parameter_{k:02d}": k for k in range(20)}
            params.update(
                {
                    "max_depth": depth,
                    "model.min_weight_fraction_leaf": leaf / 10,
                    "criterion": "gini",
                }
            )
            run.log_params(params)
            run.log_metric("accuracy", 0.9 + i / 100)
            for epoch in range(4):
                run.log_metric("loss", 1 / (epoch + 1 + i), step=epoch)
            ids.append(run.run_id)
    return ids


def test_parallel_coordinates_use_only_params_that_differ(workspace):
    c = nbmlops.compare(*_tuned_runs())
    assert c.differing_params == ["max_depth", "model.min_weight_fraction_leaf"]
    fig = c.parallel_figure("accuracy")
    assert [t.type for t in fig.data] == ["scatter"] * 3, "one line per run"
    labels = list(fig.layout.xaxis.ticktext)
    assert labels == ["max_depth", "min_weight_frac…", "accuracy"], "long names are cut"
    assert all(len(label) <= 16 for label in labels)
    assert c.axis_names("accuracy")["min_weight_frac…"] == "model.min_weight_fraction_leaf"
    # The hover of every point names the axis in full, with the run's value.
    first = fig.data[0]
    assert list(first.customdata) == [
        "max_depth = 3",
        "model.min_weight_fraction_leaf = 0.1",
        "accuracy = 0.9",
    ]
    assert first.meta == c.labels[0] and "%{customdata}" in first.hovertemplate
    assert [t.y[0] for t in fig.data] == [0.0, 0.4, 1.0]  # max_depth 3, 5, 8 on its axis
    assert [t.y[2] for t in fig.data] == pytest.approx([0.0, 0.5, 1.0])  # accuracy


def test_one_value_per_run_is_grouped_bars_more_steps_a_curve(workspace):
    ids = _tuned_runs()
    c = nbmlops.compare(*ids)
    bars = c.history_figure("accuracy")
    assert [t.type for t in bars.data] == ["bar"] * 3
    assert bars.layout.barmode == "group"
    assert [t.y[0] for t in bars.data] == [0.9, 0.91, 0.92]
    curve = c.history_figure("loss")
    assert [t.type for t in curve.data] == ["scatter"] * 3
    assert list(curve.data[0].x) == [0, 1, 2, 3]
    # Legend names are cut; the hover shows the full run label.
    long = c.labels[0]
    assert len(long) > 24 and curve.data[0].name == long[:23] + "…"
    assert curve.data[0].meta == long and "%{meta}" in curve.data[0].hovertemplate


def test_view_sends_plotly_json_not_a_figure_widget(workspace):
    """plotly's FigureWidget ships plotly.js (~5 MB) with every instance: the view draws its
    charts as plotly's mimetype in Output widgets instead."""
    import json

    import ipywidgets as w
    import plotly.graph_objects as go

    from nbmlops.widgets._plot import PLOTLY_MIME, shown_figure

    view = CompareView(nbmlops.compare(*_tuned_runs()))

    def tree(widget):
        yield widget
        for child in getattr(widget, "children", ()):
            yield from tree(child)

    widgets = list(tree(view))
    assert not any(isinstance(x, go.FigureWidget) for x in widgets)
    assert view.history_output in widgets and view.parallel_output in widgets
    shown = shown_figure(view.parallel_output)
    assert shown["layout"]["xaxis"]["ticktext"][-1] == "accuracy"
    assert view.history_output.outputs[0]["data"][PLOTLY_MIME]["data"][0]["type"] == "bar"
    assert (
        "min_weight_frac…" in view.axes.value
        and "model.min_weight_fraction_leaf" in view.axes.value
    )
    state = sum(
        len(json.dumps(x.get_state(), default=str)) for x in widgets if isinstance(x, w.Widget)
    )
    assert state < 200_000, f"{state:,} bytes of widget state for a comparison of 3 runs"
    view.metric.value = "loss"
    assert view.history_output.outputs[0]["data"][PLOTLY_MIME]["data"][0]["type"] == "scatter"


def test_no_param_differs_no_parallel_chart(runs7):
    view = CompareView(nbmlops.compare(runs7[0], runs7[6]))  # same C and penalty
    assert view.comparison.differing_params == []
    assert view.parallel is None and "no param differs" in view.axes.value
    assert view.history is not None
