"""Static HTML building blocks: escaping, badges, tables, key/value lists, sections.

What nbconvert, GitHub and other viewers without a widget manager show, used by every
capability for its rich display (a run, a feature view) and by the widgets. Every user string is
escaped; styles are inline so the HTML survives being pasted anywhere.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence
from typing import Any

STATUS_COLORS = {
    "FINISHED": ("#1a7f37", "#dafbe1"),
    "RUNNING": ("#0969da", "#ddf4ff"),
    "FAILED": ("#cf222e", "#ffebe9"),
    "KILLED": ("#9a6700", "#fff8c5"),
}
STAGE_COLORS = {
    "production": ("#1a7f37", "#dafbe1"),
    "staging": ("#0969da", "#ddf4ff"),
    "archived": ("#57606a", "#eaeef2"),
}
DIFF_BG = "#fff8c5"
TABLE = "border-collapse:collapse;font:13px system-ui,-apple-system,sans-serif"
CELL = "padding:3px 8px;border-bottom:1px solid #d0d7de;text-align:left;white-space:nowrap"
HEAD = CELL + ";background:#f6f8fa;font-weight:600"


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A short, readable cell value: floats to 4 significant digits, times in UTC, missing
    values (None, NaN, ``pd.NA``, ``NaT``) as a dash."""
    from .cells import text

    return text(value)


def error(exc: BaseException) -> str:
    """An error shown inside a tab, in red (never raised into the notebook): nbmlops errors
    by their message, anything else with its type."""
    from ..errors import NbmlopsError

    message = str(exc) if isinstance(exc, NbmlopsError) else f"{type(exc).__name__}: {exc}"
    return f"<pre style='color:#cf222e;white-space:pre-wrap;margin:4px 0'>{esc(message)}</pre>"


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "—"
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def badge(text: str, colors: tuple[str, str] = ("#57606a", "#eaeef2")) -> str:
    fg, bg = colors
    return (
        f'<span class="nbmlops-badge" style="display:inline-block;padding:0 6px;'
        f"border-radius:10px;font-size:11px;line-height:18px;color:{fg};background:{bg};"
        f'border:1px solid {fg}33">{esc(text)}</span>'
    )


def status_badge(status: str) -> str:
    return badge(status, STATUS_COLORS.get(status, ("#57606a", "#eaeef2")))


def stage_badge(stage: str) -> str:
    return badge(stage, STAGE_COLORS.get(stage, ("#8250df", "#fbefff")))


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    highlight: Iterable[bool] | None = None,
    raw: bool = False,
    cls: str = "nbmlops-table",
) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then they are HTML already)."""
    marks = list(highlight) if highlight is not None else None
    head = "".join(f'<th style="{HEAD}">{esc(h)}</th>' for h in headers)
    body = []
    for i, row in enumerate(rows):
        style = f' style="background:{DIFF_BG}"' if marks is not None and marks[i] else ""
        cells = "".join(f'<td style="{CELL}">{c if raw else esc(c)}</td>' for c in row)
        body.append(f"<tr{style}>{cells}</tr>")
    return (
        f'<table class="{cls}" style="{TABLE}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def key_values(pairs: Iterable[tuple[str, str]]) -> str:
    """A two-column table of already-escaped HTML values."""
    rows = "".join(
        f'<tr><th style="{CELL};color:#57606a;font-weight:500">{esc(k)}</th>'
        f'<td style="{CELL};white-space:normal">{v}</td></tr>'
        for k, v in pairs
    )
    return f'<table style="{TABLE}">{rows}</table>'


def section(title: str, body: str) -> str:
    return (
        f'<h4 style="margin:10px 0 4px;font:600 13px system-ui,sans-serif">{esc(title)}</h4>{body}'
    )


def box(body: str, cls: str) -> str:
    return f'<div class="{cls}" style="font:13px system-ui,-apple-system,sans-serif">{body}</div>'
