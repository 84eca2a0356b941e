"""Plotly figures inside widget panels, as plotly's own mimetype in an ``Output`` widget.

plotly's ``FigureWidget`` is an anywidget that ships the whole plotly.js bundle (~5 MB) as
its module source with every instance: two charts in the Compare tab meant 10 MB through the
kernel's websocket and two evaluations of plotly.js in the browser (21–33 s to render two
runs). The ``application/vnd.plotly.v1+json`` output is a few KB of data; JupyterLab,
Notebook 7 and VS Code render it with the plotly.js they load once.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import ipywidgets as w

if TYPE_CHECKING:
    import plotly.graph_objects as go

PLOTLY_MIME = "application/vnd.plotly.v1+json"


def figure_bundle(fig: go.Figure) -> dict[str, Any]:
    """The display data of ``fig``: plotly's JSON and a line of text.

    Not ``plotly.io.renderers``: importing it imports nbformat's validator (jsonschema,
    seconds on a loaded machine) on the first chart.
    """
    import plotly.io as pio

    data = json.loads(pio.to_json(fig, validate=False, remove_uids=False))
    title = fig.layout.title.text if fig.layout.title and fig.layout.title.text else "figure"
    return {PLOTLY_MIME: data, "text/plain": f"<plotly figure: {title}>"}


def show_figure(output: w.Output, fig: go.Figure | None) -> None:
    """Make ``output`` show ``fig`` (nothing when None)."""
    if fig is None:
        output.outputs = ()
        return
    output.outputs = ({"output_type": "display_data", "data": figure_bundle(fig), "metadata": {}},)


def figure_output(fig: go.Figure | None = None) -> w.Output:
    """An ``Output`` widget showing ``fig``."""
    output = w.Output()
    show_figure(output, fig)
    return output


def shown_figure(output: w.Output) -> dict[str, Any] | None:
    """The plotly JSON an ``Output`` made by :func:`show_figure` shows (for checks)."""
    for item in output.outputs:
        data = item.get("data", {})
        if PLOTLY_MIME in data:
            return data[PLOTLY_MIME]
    return None
