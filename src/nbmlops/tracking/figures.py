"""Figures as artifacts: matplotlib → PNG/SVG/PDF, plotly → HTML/JSON."""

from __future__ import annotations

import io
import sys

from ..errors import InvalidArtifactName

_MPL_FORMATS = {".png": "image/png", ".svg": "image/svg+xml", ".pdf": "application/pdf"}


def is_plotly_figure(obj: object) -> bool:
    base = sys.modules.get("plotly.basedatatypes")
    return base is not None and isinstance(obj, base.BaseFigure)


def is_matplotlib_figure(obj: object) -> bool:
    figure = sys.modules.get("matplotlib.figure")
    return figure is not None and isinstance(obj, figure.Figure)


def figure_bytes(figure: object, name: str) -> tuple[bytes, str]:
    """Serialize ``figure`` in the format ``name``'s extension asks for."""
    ext = name[name.rfind(".") :].lower() if "." in name else ""
    if is_plotly_figure(figure):
        if ext == ".html":
            # The plotly.js bundle is loaded from its CDN: a self-contained file is ~4 MB.
            html = figure.to_html(include_plotlyjs="cdn", full_html=True)  # type: ignore[attr-defined]
            return html.encode(), "text/html"
        if ext == ".json":
            return figure.to_json().encode(), "application/json"  # type: ignore[attr-defined]
        raise InvalidArtifactName(name, "plotly figures are saved as .html or .json")
    if is_matplotlib_figure(figure):
        if ext not in _MPL_FORMATS:
            raise InvalidArtifactName(name, "matplotlib figures are saved as .png, .svg or .pdf")
        buffer = io.BytesIO()
        figure.savefig(buffer, format=ext[1:], bbox_inches="tight")  # type: ignore[attr-defined]
        return buffer.getvalue(), _MPL_FORMATS[ext]
    raise InvalidArtifactName(
        name, f"log_figure takes a matplotlib or plotly figure, not {type(figure).__name__}"
    )


def open_matplotlib_figures() -> dict[int, object]:
    """Open pyplot figures by number (empty when pyplot was never imported)."""
    if "matplotlib.pyplot" not in sys.modules:
        return {}
    from matplotlib._pylab_helpers import Gcf  # what plt.get_fignums reads, without side effects

    return {m.num: m.canvas.figure for m in Gcf.get_all_fig_managers()}
