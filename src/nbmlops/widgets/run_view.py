"""``RunView``: one run as a widget (its summary and metric curves) and its mimebundle."""

from __future__ import annotations

import ipywidgets as w

from . import _html as h


class RunView(w.VBox):
    """The run's summary (status, params, metrics, data, artifacts) and, when it logged
    metrics, their history by step with a metric picker."""

    def __init__(self, run):
        super().__init__()
        self.run = run
        self.summary = w.HTML(h.run_html(run))
        history = run.metric_history()
        self.metric = w.Dropdown(description="metric", options=sorted(set(history["key"])))
        self.figure = None
        children = [self.summary]
        if len(history):
            import plotly.graph_objects as go

            self._history = history
            self.figure = go.FigureWidget(self._figure(self.metric.value))
            self.metric.observe(lambda _: self._on_metric(), names="value")
            children += [self.metric, self.figure]
        self.children = children

    def _figure(self, metric: str):
        import plotly.graph_objects as go

        points = self._history[self._history["key"] == metric]
        fig = go.Figure(go.Scatter(x=points["step"], y=points["value"], mode="lines+markers"))
        fig.update_layout(title=f"{metric} by step", xaxis_title="step", height=300)
        return fig

    def _on_metric(self) -> None:
        fresh = self._figure(self.metric.value)
        with self.figure.batch_update():
            self.figure.data = ()
            self.figure.add_traces(list(fresh.data))
            self.figure.layout.title = fresh.layout.title


def run_bundle(run, include=None, exclude=None) -> dict:
    """The mimebundle of a :class:`~nbmlops.Run`: text summary, static HTML, widget view."""
    from ._display import mimebundle

    return mimebundle(
        run.summary(), lambda: h.run_html(run), lambda: RunView(run), include, exclude
    )
