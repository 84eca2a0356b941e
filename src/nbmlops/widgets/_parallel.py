"""Parallel coordinates drawn with plotly's SVG scatter traces, one line per run.

plotly's ``Parcoords`` draws with WebGL: in a browser without a GPU (headless Chromium, many
remote desktops) one chart of two runs took 4–5 s to appear, against 0.3 s for the same axes
as SVG lines. A comparison holds a handful of runs, so brushing (what WebGL buys for
thousands of lines) matters less than showing up at once and a hover that names every
point in full: ``model.min_weight_fraction_leaf = 0.1``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..display.cells import format_numbers, is_missing, is_number, text

if TYPE_CHECKING:
    import plotly.graph_objects as go

LEVEL_LABELS = 8  # a categorical axis names its levels when it has at most this many
LEVEL_WIDTH = 12


@dataclasses.dataclass
class Axis:
    """One vertical axis: its short ``label``, full ``name`` and a value per run."""

    label: str
    name: str
    values: list[Any]

    @property
    def numeric(self) -> bool:
        return all(is_number(v) and not is_missing(v) for v in self.values)

    def positions(self) -> tuple[list[float], list[tuple[float, str]]]:
        """Each run's height on the axis (0 to 1) and the ticks to write beside it."""
        if self.numeric:
            numbers = [float(v) for v in self.values]
            low, high = min(numbers), max(numbers)
            span = high - low
            heights = [(v - low) / span if span else 0.5 for v in numbers]
            low_text, high_text = format_numbers([low, high])
            ticks = [(0.0, low_text), (1.0, high_text)] if span else [(0.5, low_text)]
            return heights, ticks
        texts = [text(v) for v in self.values]
        levels = sorted(set(texts))
        step = 1 / (len(levels) - 1) if len(levels) > 1 else 0
        place = {level: (i * step if step else 0.5) for i, level in enumerate(levels)}
        shown = levels if len(levels) <= LEVEL_LABELS else [levels[0], levels[-1]]
        ticks = [(place[level], _cut(level)) for level in shown]
        return [place[t] for t in texts], ticks

    def value_text(self, i: int) -> str:
        return text(self.values[i])


def _cut(value: str, width: int = LEVEL_WIDTH) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def figure(
    axes: list[Axis],
    runs: list[str],
    run_names: list[str],
    color: list[float],
    title: str,
) -> go.Figure:
    """One line per run across ``axes``; lines colored by ``color`` (the metric, Viridis:
    yellow is the highest), hover naming the run and the full axis name with its value."""
    import plotly.graph_objects as go
    from plotly.colors import sample_colorscale

    low, high = (min(color), max(color)) if color else (0.0, 0.0)
    shades = sample_colorscale(
        "Viridis", [((c - low) / (high - low)) if high > low else 1.0 for c in color]
    )
    heights, ticks = zip(*(axis.positions() for axis in axes), strict=True) if axes else ((), ())
    x = list(range(len(axes)))
    fig = go.Figure()
    for i, run in enumerate(runs):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[h[i] for h in heights],
                mode="lines+markers",
                line={"color": shades[i], "width": 2},
                marker={"size": 7},
                name=run_names[i],
                meta=run,
                customdata=[f"{axis.name} = {axis.value_text(i)}" for axis in axes],
                hovertemplate="%{meta}<br>%{customdata}<extra></extra>",
            )
        )
    # Shapes and annotations go in with the layout: one validation, not one per call.
    shapes = [
        {
            "type": "line",
            "x0": j,
            "x1": j,
            "y0": 0,
            "y1": 1,
            "line": {"color": "#8c959f", "width": 1},
        }
        for j in x
    ]
    annotations = [
        {
            "x": j,
            "y": height,
            "text": label,
            "xanchor": "left",
            "xshift": 6,
            "showarrow": False,
            "bgcolor": "rgba(255,255,255,0.85)",  # readable where a line crosses it
            "font": {"size": 10, "color": "#24292f"},
        }
        for j, axis_ticks in enumerate(ticks)
        for height, label in axis_ticks
    ]
    fig.update_layout(
        shapes=shapes,
        annotations=annotations,
        title=title,
        height=340,
        margin={"t": 90, "l": 30, "r": 30, "b": 20},
        plot_bgcolor="white",
        meta=[axis.name for axis in axes],
        xaxis={
            "tickvals": x,
            "ticktext": [axis.label for axis in axes],
            "side": "top",
            "showgrid": False,
            "zeroline": False,
            "range": [-0.3, max(len(axes) - 1, 0) + 0.6],
        },
        yaxis={"visible": False, "range": [-0.08, 1.08]},
        legend={"title": {"text": "run"}},
    )
    return fig
