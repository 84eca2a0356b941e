"""``CompareView``: the interactive face of a :class:`~nbmlops.widgets.compare.Comparison`."""

from __future__ import annotations

import ipywidgets as w

from ..display import html as h
from ._plot import show_figure
from .compare import Comparison, diff_html


class CompareView(w.VBox):
    """Params/metrics tables with differences highlighted, the chosen metric (a curve by step,
    or grouped bars when each run logged it once), parallel coordinates of the params that
    differ against it, code diffs, environment and data differences.

    ``history`` and ``parallel`` are the plotly figures shown (None when there is nothing to
    draw); ``history_output`` and ``parallel_output`` the widgets showing them.
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
        self.history_output = w.Output()
        self.parallel_output = w.Output()
        self.axes = w.HTML()
        self.children = [self.empty]
        if comparison is not None:
            self.show(comparison)

    def show(self, comparison: Comparison) -> None:
        """Show ``comparison`` (replaces what was shown)."""
        self.comparison = c = comparison
        self.header.value = _section(c.header_html, "nbmlops-compare-header")
        self.tables.value = _section(c.tables_html, "nbmlops-compare-tables")
        self.environment.value = _section(c.environment_html, "nbmlops-compare-environment")
        pairs = [(f"{c.labels[0]} → {c.labels[i]}", i) for i in range(1, len(c.runs))]
        self.code_pair.unobserve(self._on_code_pair, names="value")
        self.code_pair.options = pairs
        self.code_pair.value = 1
        self.code_pair.observe(self._on_code_pair, names="value")
        self._on_code_pair()
        children = [self.header, self.tables]
        names = c.metric_names
        self.metric.unobserve(self._on_metric, names="value")
        self.metric.options = names
        self.metric.value = names[0] if names else None
        self.metric.observe(self._on_metric, names="value")
        if names:
            self._draw(names[0])
            children += [self.metric, self.history_output, self.parallel_output, self.axes]
        else:
            self.history = self.parallel = None
            show_figure(self.history_output, None)
            show_figure(self.parallel_output, None)
        children += [self.code_pair, self.code, self.environment]
        self.children = children

    def _draw(self, metric: str) -> None:
        try:
            self._draw_figures(metric)
        except Exception as exc:  # noqa: BLE001 - the rest of the comparison stays readable
            self.history = self.parallel = None
            show_figure(self.history_output, None)
            show_figure(self.parallel_output, None)
            self.axes.value = h.error(exc)

    def _draw_figures(self, metric: str) -> None:
        c = self.comparison
        self.history = c.history_figure(metric)
        show_figure(self.history_output, self.history)
        if c.differing_params:
            self.parallel = c.parallel_figure(metric)
            cut = {k: v for k, v in c.axis_names(metric).items() if k != v}
            self.axes.value = (
                "<p style='color:#57606a;font-size:12px;margin:0 0 6px'>axes: "
                + ", ".join(
                    f"<span title='{h.esc(full)}' style='border-bottom:1px dotted'>"
                    f"{h.esc(short)}</span> = {h.esc(full)}"
                    for short, full in cut.items()
                )
                + "</p>"
                if cut
                else ""
            )
        else:
            self.parallel = None
            self.axes.value = (
                "<p style='color:#57606a'>no param differs between these runs: "
                "no parallel coordinates to draw</p>"
            )
        show_figure(self.parallel_output, self.parallel)

    def _on_metric(self, change=None) -> None:
        if self.comparison is None or self.metric.value is None:
            return
        self._draw(self.metric.value)

    def _on_code_pair(self, change=None) -> None:
        if self.comparison is None or self.code_pair.value is None:
            return
        diff = self.comparison.code_diff(self.code_pair.value)
        self.code.value = diff_html(diff) if diff else "<p>same code</p>"


def _section(render, cls: str) -> str:
    """One part of the comparison as HTML; if it cannot be built, the error in its place."""
    try:
        return h.box(render(), cls)
    except Exception as exc:  # noqa: BLE001 - one unreadable part must not hide the others
        return h.error(exc)
