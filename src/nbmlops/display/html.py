"""Static HTML of runs, run tables, comparisons, feature views and the panel.

What nbconvert, GitHub and other viewers without a widget manager show. Every user string is
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
    from ._format import text

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


# -- runs ---------------------------------------------------------------------------------------


def run_html(run) -> str:
    """One run: header with status, params, latest metrics, tags, data, artifacts."""
    info = run.info
    details = run._details()
    title = f"Run {esc(run.run_id[:8])}" + (f" · {esc(info['name'])}" if info["name"] else "")
    duration = (info["end_time"] or dt.datetime.now().timestamp()) - info["start_time"]
    pairs = [
        ("run_id", f"<code>{esc(run.run_id)}</code>"),
        ("experiment", esc(info["experiment"])),
        ("status", status_badge(info["status"])),
        ("started", esc(when(info["start_time"]))),
        ("duration", f"{duration:.2f} s"),
    ]
    if info.get("git_commit"):
        dirty = " (dirty)" if info.get("git_dirty") else ""
        pairs.append(("git", f"<code>{esc(info['git_commit'][:10])}</code>{esc(dirty)}"))
    if info.get("parent_run_id"):
        pairs.append(("parent", f"<code>{esc(info['parent_run_id'][:8])}</code>"))
    parts = [f'<h3 style="margin:4px 0">{title}</h3>', key_values(pairs)]
    if details["params"]:
        parts.append(
            section(
                "Params",
                table(["param", "value"], [(k, repr(v)) for k, v in details["params"].items()]),
            )
        )
    if details["metrics"]:
        parts.append(
            section(
                "Metrics",
                table(["metric", "latest"], [(k, fmt(v)) for k, v in details["metrics"].items()]),
            )
        )
    if details["tags"]:
        parts.append(section("Tags", table(["tag", "value"], list(details["tags"].items()))))
    if details["data"]:
        parts.append(
            section(
                "Data",
                table(
                    ["direction", "name", "kind", "digest"],
                    [
                        (d["direction"], d["name"], d["kind"], d["digest"][:12])
                        for d in details["data"]
                    ],
                ),
            )
        )
    if details["artifacts"]:
        parts.append(
            section(
                "Artifacts",
                table(
                    ["name", "size"],
                    [(a["name"], f"{a['size']:,} B") for a in details["artifacts"]],
                ),
            )
        )
    if info.get("error"):
        last = info["error"].strip().splitlines()[-1] if info["error"].strip() else ""
        parts.append(section("Error", f"<pre style='color:#cf222e'>{esc(last)}</pre>"))
    return box("".join(parts), "nbmlops-run")


# -- feature views ------------------------------------------------------------------------------


def feature_view_html(view) -> str:
    version = f" v{view.version}" if getattr(view, "version", None) is not None else ""
    ttl = "none" if view.ttl is None else f"{view.ttl:g} s"
    pairs = [
        ("entities", esc(", ".join(e.name for e in view.entities))),
        ("join keys", esc(", ".join(view.join_keys))),
        ("timestamp", f"<code>{esc(view.timestamp)}</code>"),
        ("ttl", esc(ttl)),
    ]
    if view.description:
        pairs.append(("description", esc(view.description)))
    if view.owner:
        pairs.append(("owner", esc(view.owner)))
    if view.tags:
        pairs.append(("tags", " ".join(badge(f"{k}={v}") for k, v in view.tags.items())))
    if view.source:
        pairs.append(("source", esc(view.source)))
    rows = [
        (
            f.name,
            f.dtype,
            "yes" if f.nullable else "no",
            fmt(f.min),
            fmt(f.max),
            f.description or "",
        )
        for f in view.fields
    ]
    return box(
        f'<h3 style="margin:4px 0">Feature view {esc(view.name)}{esc(version)}</h3>'
        + key_values(pairs)
        + section(
            "Fields", table(["field", "dtype", "nullable", "min", "max", "description"], rows)
        ),
        "nbmlops-feature-view",
    )
