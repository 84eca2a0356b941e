"""The static HTML of a run (what a notebook shows where no widget can render)."""

from __future__ import annotations

import datetime as dt

from ..display.html import box, esc, fmt, key_values, section, status_badge, table, when


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
