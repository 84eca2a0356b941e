"""The plotly timeline of a monitor: drift share and metrics per window, alerts marked in red,
production changes of the model drawn as dashed lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from ._definition import MonitorDefinition

MAX_METRICS = 3


def timeline_figure(m: MonitorDefinition, history: pd.DataFrame):
    """The figure of monitor ``m`` from its run history (``Monitor.history()``)."""
    import plotly.graph_objects as go

    from ..registry import model_history

    fig = go.Figure()
    x = history["window_end"]
    fig.add_trace(
        go.Scatter(x=x, y=history["drift_share"], mode="lines+markers", name="drift share")
    )
    metrics = [col for col in history.columns if col.startswith("metrics.")]
    preferred = [f"metrics.{k}" for k in ("f1", "accuracy", "roc_auc", "rmse", "mae", "r2")]
    shown = [col for col in preferred if col in metrics][:MAX_METRICS]
    for col in shown:
        fig.add_trace(
            go.Scatter(x=x, y=history[col], mode="lines+markers", name=col.split(".", 1)[1])
        )
    alerts = history.loc[history["status"] == "alert"]
    if len(alerts):
        fig.add_trace(
            go.Scatter(
                x=alerts["window_end"],
                y=alerts["drift_share"].fillna(0),
                mode="markers",
                marker={"color": "#cf222e", "size": 14, "symbol": "x"},
                name="alert",
                text=alerts["alert"],
                hovertemplate="%{text}<extra>alert</extra>",
            )
        )
    try:
        changes = model_history(m.model_name)
    except Exception:  # noqa: BLE001 - the model may have been deleted: no lines then
        changes = None
    if changes is not None and len(history):
        start = history["window_start"].min()
        moved = changes.loc[(changes["to_stage"] == "production") & (changes["at"] >= start)]
        for row in moved.itertuples(index=False):
            fig.add_vline(x=row.at, line_dash="dash", line_color="#8250df")
            fig.add_annotation(
                x=row.at,
                y=1.0,
                yref="paper",
                text=f"v{row.version} → production",
                showarrow=False,
                yanchor="bottom",
            )
    fig.update_layout(
        title=f"monitor {m.name}: {m.model_name}, window {m.window}",
        xaxis_title="window end",
        yaxis_title="value",
        height=380,
        margin={"t": 60, "l": 50, "r": 20, "b": 40},
    )
    return fig
