"""``RunView``: one run as a widget (its summary and metric curves) and its mimebundle."""

from __future__ import annotations

import ipywidgets as w

from ..tracking._html import run_html
from ._plot import show_figure


class RunView(w.VBox):
    """The run's summary (status, params, metrics, data, artifacts) and, when it logged
    metrics, their history by step with a metric picker."""

    def __init__(self, run):
        super().__init__()
        self.run = run
        self.summary = w.HTML(run_html(run))
        history = run.metric_history()
        self.metric = w.Dropdown(description="metric", options=sorted(set(history["key"])))
        self.figure = None  # the plotly figure shown
        self.figure_output = w.Output()
        children = [self.summary]
        if len(history):
            self._history = history
            self._on_metric()
            self.metric.observe(lambda _: self._on_metric(), names="value")
            children += [self.metric, self.figure_output]
        self.children = children

    def _figure(self, metric: str):
        import plotly.graph_objects as go

        points = self._history[self._history["key"] == metric]
        fig = go.Figure(go.Scatter(x=points["step"], y=points["value"], mode="lines+markers"))
        fig.update_layout(title=f"{metric} by step", xaxis_title="step", height=300)
        return fig

    def _on_metric(self) -> None:
        self.figure = self._figure(self.metric.value)
        show_figure(self.figure_output, self.figure)
