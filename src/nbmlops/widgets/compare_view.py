"""``CompareView``: the interactive face of a :class:`~nbmlops.widgets.compare.Comparison`."""

from __future__ import annotations

import ipywidgets as w

from . import _html as h
from .compare import Comparison, diff_html


class CompareView(w.VBox):
    """Params/metrics tables with differences highlighted, metric curves (pick the metric),
    parallel coordinates of params against it, code diffs, environment and data differences.
    """

    def __init__(self, comparison: Comparison | None = None, **kwargs):
        super().__init__(**kwargs)
        self.comparison: Comparison | None = None
        self.empty = w.HTML(
            "<p style='color:#57606a'>Select two or more runs in the Runs tab and press "
            "<b>Compare</b>, or run <code>%compare ID1 ID2</code>.</p>"
        )
        self.metric = w.Dropdown(description="metric", options=[])
        self.metric.observe(self._on_metric, names="value")
        self.header = w.HTML()
        self.tables = w.HTML()
        self.code_pair = w.Dropdown(description="code diff", options=[])
        self.code_pair.observe(self._on_code_pair, names="value")
        self.code = w.HTML()
        self.environment = w.HTML()
        self.history = None
        self.parallel = None
        self.children = [self.empty]
        if comparison is not None:
            self.show(comparison)

    def show(self, comparison: Comparison) -> None:
        """Show ``comparison`` (replaces what was shown)."""
        import plotly.graph_objects as go

        self.comparison = comparison
        c = comparison
        self.header.value = h.box(c.header_html(), "nbmlops-compare-header")
        self.tables.value = h.box(c.tables_html(), "nbmlops-compare-tables")
        self.environment.value = h.box(c.environment_html(), "nbmlops-compare-environment")
        pairs = [(f"{c.labels[0]} → {c.labels[i]}", i) for i in range(1, len(c.runs))]
        self.code_pair.options = pairs
        self.code_pair.value = 1
        self._on_code_pair()
        children = [self.header, self.tables]
        names = c.metric_names
        self.metric.unobserve(self._on_metric, names="value")
        self.metric.options = names
        self.metric.value = names[0] if names else None
        self.metric.observe(self._on_metric, names="value")
        if names:
            self.history = go.FigureWidget(c.history_figure(names[0]))
            self.parallel = go.FigureWidget(c.parallel_figure(names[0]))
            children += [self.metric, self.history, self.parallel]
        else:
            self.history = self.parallel = None
        children += [self.code_pair, self.code, self.environment]
        self.children = children

    def _on_metric(self, change=None) -> None:
        if self.comparison is None or self.metric.value is None or self.history is None:
            return
        for target, build in (
            (self.history, self.comparison.history_figure),
            (self.parallel, self.comparison.parallel_figure),
        ):
            fresh = build(self.metric.value)
            with target.batch_update():
                target.data = ()
                target.add_traces(list(fresh.data))
                target.layout.title = fresh.layout.title
                target.layout.yaxis.title = fresh.layout.yaxis.title

    def _on_code_pair(self, change=None) -> None:
        if self.comparison is None or self.code_pair.value is None:
            return
        diff = self.comparison.code_diff(self.code_pair.value)
        self.code.value = diff_html(diff) if diff else "<p>same code</p>"
