"""The interactive drift figure, as a plain plotly figure dict (no plotly import needed).

Three panels share one column picker (a plotly dropdown, so it works in a standalone HTML file
and in any notebook frontend): distribution (overlaid histograms or category bars), ECDF
(numeric columns) and the segments that explain the column's PSI. Every user string is
HTML-escaped, because plotly renders a subset of HTML in labels.
"""

from __future__ import annotations

import html
from typing import Any

TRACES_PER_COLUMN = 5
REFERENCE_COLOR = "#636efa"
CURRENT_COLOR = "#ef553b"
SEGMENT_COLOR = "#00a08b"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _column_traces(col: dict, visible: bool) -> list[dict]:
    plot = col.get("plot") or {}
    traces: list[dict] = []
    name = _esc(col["column"])
    if plot.get("type") == "numeric":
        edges = plot["edges"]
        centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
        width = (edges[1] - edges[0]) if len(edges) > 1 else 1
        for side, color in (("reference", REFERENCE_COLOR), ("current", CURRENT_COLOR)):
            traces.append(
                {
                    "type": "bar",
                    "x": centers,
                    "y": plot[side],
                    "width": width,
                    "name": side,
                    "marker": {"color": color},
                    "opacity": 0.55,
                    "xaxis": "x",
                    "yaxis": "y",
                    "legendgroup": side,
                    "showlegend": True,
                    "visible": visible,
                    "hovertemplate": f"{name}: %{{x:.4g}}<br>share %{{y:.2%}}<extra>{side}</extra>",
                }
            )
        for side, color in (("reference", REFERENCE_COLOR), ("current", CURRENT_COLOR)):
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": plot[f"ecdf_{side}"],
                    "y": plot["ecdf_q"],
                    "name": side,
                    "line": {"color": color, "shape": "hv"},
                    "xaxis": "x2",
                    "yaxis": "y2",
                    "legendgroup": side,
                    "showlegend": False,
                    "visible": visible,
                    "hovertemplate": f"{name} ≤ %{{x:.4g}}: %{{y:.0%}}<extra>{side}</extra>",
                }
            )
    else:
        categories = [_esc(c) for c in plot.get("categories", [])]
        for side, color in (("reference", REFERENCE_COLOR), ("current", CURRENT_COLOR)):
            traces.append(
                {
                    "type": "bar",
                    "x": categories,
                    "y": plot.get(side, []),
                    # Side by side within the overlay bar mode the histograms need.
                    "width": 0.4,
                    "offset": -0.4 if side == "reference" else 0.0,
                    "name": side,
                    "marker": {"color": color},
                    "xaxis": "x",
                    "yaxis": "y",
                    "legendgroup": side,
                    "showlegend": True,
                    "visible": visible,
                    "hovertemplate": "%{x}: %{y:.2%}<extra>" + side + "</extra>",
                }
            )
        for _side in ("reference", "current"):
            traces.append(
                {
                    "type": "scatter",
                    "x": [],
                    "y": [],
                    "xaxis": "x2",
                    "yaxis": "y2",
                    "showlegend": False,
                    "visible": visible,
                }
            )
    segments = col.get("segments") or []
    traces.append(
        {
            "type": "bar",
            "orientation": "h",
            "y": [f"{_esc(s['segment'])}={_esc(s['value'])}" for s in segments][::-1],
            "x": [s["share_of_psi"] for s in segments][::-1],
            "customdata": [[s["rows_current"], s["segment_psi"]] for s in segments][::-1],
            "marker": {"color": SEGMENT_COLOR},
            "xaxis": "x3",
            "yaxis": "y3",
            "showlegend": False,
            "visible": visible,
            "name": "segments",
            "hovertemplate": "%{y}<br>%{x:.0%} of the PSI<br>%{customdata[0]:.1%} of current rows"
            "<br>own PSI %{customdata[1]:.3f}<extra></extra>",
        }
    )
    return traces


def _title(col: dict) -> str:
    parts = [f"<b>{_esc(col['column'])}</b>"]
    if col.get("method"):
        value = col.get("p_adjusted") if col["method"] in ("ks", "chi2") else col.get("statistic")
        label = "adjusted p" if col["method"] in ("ks", "chi2") else col["method"]
        parts.append(f"{label} {value:.4g} (threshold {col['threshold']:.4g})")
    parts.append(f"PSI {col['psi']:.3f}")
    parts.append("DRIFT" if col.get("drifted") else "no drift")
    return " · ".join(parts)


def _axes(col: dict) -> dict[str, Any]:
    """Axis settings for one column: plotly keeps an axis' type and range across updates,
    so switching from a numeric to a categorical column must reset them."""
    categorical = (col.get("plot") or {}).get("type") != "numeric"
    if col.get("segments"):
        segment_title = "share of PSI by segment"
    elif col.get("drifted"):
        segment_title = "no segments given (segments=[...])"
    else:
        segment_title = "segments are ranked for drifted columns"
    settings: dict[str, Any] = {
        "xaxis.type": "category" if categorical else "linear",
        "xaxis2.type": "linear",
        "xaxis3.title.text": segment_title,
    }
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2", "xaxis3", "yaxis3"):
        settings[f"{axis}.autorange"] = True
    return settings


def drift_figure(columns: list[dict], dataset_title: str) -> dict[str, Any]:
    """The figure dict for the given column results (``ColumnDrift.to_dict()``)."""
    traces: list[dict] = []
    for i, col in enumerate(columns):
        traces += _column_traces(col, visible=(i == 0))
    buttons = []
    for i, col in enumerate(columns):
        visible = [False] * (TRACES_PER_COLUMN * len(columns))
        visible[i * TRACES_PER_COLUMN : (i + 1) * TRACES_PER_COLUMN] = [True] * TRACES_PER_COLUMN
        mark = "● " if col.get("drifted") else ""
        buttons.append(
            {
                "label": f"{mark}{_esc(col['column'])}",
                "method": "update",
                "args": [{"visible": visible}, {"title.text": _title(col), **_axes(col)}],
            }
        )
    first = columns[0] if columns else {"column": "", "psi": 0.0}
    layout: dict[str, Any] = {
        "title": {
            "text": _title(first) if columns else dataset_title,
            "x": 0.01,
            "font": {"size": 14},
        },
        "height": 560,
        "barmode": "overlay",
        "margin": {"l": 60, "r": 20, "t": 90, "b": 50},
        "legend": {"orientation": "h", "x": 0.0, "y": 1.08},
        "xaxis": {"domain": [0, 0.6], "anchor": "y", "title": {"text": "value"}},
        "yaxis": {
            "domain": [0.55, 1],
            "anchor": "x",
            "title": {"text": "share of rows"},
            "tickformat": ".0%",
        },
        "xaxis2": {"domain": [0, 0.6], "anchor": "y2", "title": {"text": "value (ECDF)"}},
        "yaxis2": {"domain": [0, 0.4], "anchor": "x2", "tickformat": ".0%"},
        "xaxis3": {
            "domain": [0.72, 1],
            "anchor": "y3",
            "tickformat": ".0%",
            "title": {"text": "share of PSI by segment"},
        },
        "yaxis3": {"domain": [0, 1], "anchor": "x3", "automargin": True},
        "updatemenus": [
            {
                "buttons": buttons,
                "direction": "down",
                "x": 1.0,
                "xanchor": "right",
                "y": 1.16,
                "yanchor": "top",
                "showactive": True,
            }
        ],
        "template": {
            "layout": {"font": {"family": "system-ui, sans-serif"}, "plot_bgcolor": "#f7f7f9"}
        },
    }
    if columns:
        for key, value in _axes(first).items():  # the first column's axes, as nested dicts
            axis, *path = key.split(".")
            target = layout.setdefault(axis, {})
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = value
    return {"data": traces, "layout": layout}
