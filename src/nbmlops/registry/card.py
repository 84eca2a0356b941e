"""Model cards: what a model is for, where it came from, how it scores, how it changed.

A :class:`ModelCard` is built from the registry and the tracking store each time it is shown,
so it never goes stale. It renders as Markdown (``to_markdown``, user-written HTML escaped so a
renderer shows it as text) and as self-contained HTML with every user-written string escaped
(``to_html``), and saves to ``.md`` or ``.html``.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from pathlib import Path
from typing import Any

from ..errors import InvalidModel, RunNotFound
from .record import VersionRecord

# The fields users write themselves, in the order a card shows them.
CARD_FIELDS = {
    "intended_use": "Intended use",
    "limitations": "Limitations",
    "ethical_considerations": "Ethical considerations",
    "training_data": "Training data",
    "caveats": "Caveats and recommendations",
}
_MAX_PARAMS = 60


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def _md(value: Any) -> str:
    """A user-written string for Markdown: its HTML (``<script>``, ``<img onerror=…>``)
    escaped, since Markdown renderers pass raw HTML through; Markdown formatting is kept."""
    return html.escape(_fmt(value), quote=False)


def _md_line(value: Any) -> str:
    return _md(value).replace("\r", " ").replace("\n", " ")


def _md_cell(value: Any) -> str:
    return _md_line(value).replace("|", "\\|")


class ModelCard:
    """The card of one model version; ``str(card)`` is its Markdown."""

    def __init__(self, version: VersionRecord):
        self.version = version
        self.sections = self._collect()

    def __repr__(self) -> str:
        return f"<ModelCard {self.version.uri}>"

    def __str__(self) -> str:
        return self.to_markdown()

    # -- content -------------------------------------------------------------------------------

    def _collect(self) -> list[tuple[str, Any]]:
        """``[(title, content)]``: content is text, a ``{label: value}`` dict or a table
        ``(header, rows)``."""
        mv = self.version
        info = mv.info
        sections: list[tuple[str, Any]] = []
        overview = {
            "Model": mv.uri,
            "Stage": info["stage"] or "registered (no stage)",
            "Aliases": ", ".join(info["aliases"]) or "-",
            "Class": info["model_class"],
            "Stored as": f"{info['flavor']} ({info['size']:,} bytes, sha256 {info['digest'][:12]}…)",
            "Registered": f"{_when(info['created_at'])} by {info['user_name'] or 'unknown'}",
        }
        sections.append(("Overview", overview))
        if info["description"]:
            sections.append(("Description", info["description"]))
        fields = mv.card_fields
        for key, title in CARD_FIELDS.items():
            sections.append((title, fields.get(key) or f"Not written yet: mv.update({key}='…')."))
        for key, value in fields.items():
            if key not in CARD_FIELDS:
                sections.append((key.replace("_", " ").capitalize(), value))
        sections.append(("Lineage", self._lineage(info)))
        sections.extend(self._governance())
        run = mv.run
        params: dict[str, Any] = {}
        if run is not None:
            try:
                params = run.params
            except RunNotFound:
                params = {}
        if params:
            shown = list(params.items())[:_MAX_PARAMS]
            rows = [[k, _fmt(val)] for k, val in shown]
            if len(params) > _MAX_PARAMS:
                rows.append(["…", f"{len(params) - _MAX_PARAMS} more in the run"])
            sections.append(("Parameters", (["param", "value"], rows)))
        metrics = mv.metrics
        if metrics:
            sections.append(
                ("Metrics", (["metric", "value"], [[k, _fmt(m)] for k, m in metrics.items()]))
            )
        evaluation = mv.evaluation
        segments = evaluation[evaluation["segment"] != ""] if len(evaluation) else evaluation
        if len(segments):
            header = [str(c) for c in segments.columns]
            header[0] = "segment"
            rows = [[_fmt(x) for x in row] for row in segments.itertuples(index=False)]
            sections.append(("Metrics per segment", (header, rows)))
        signature = mv.signature
        if signature.columns:
            rows = [
                [c.name, c.dtype, ", ".join(map(str, c.categories)) if c.categories else ""]
                for c in signature.columns
            ]
            sections.append(
                (f"Signature (from {signature.source})", (["column", "dtype", "categories"], rows))
            )
        elif signature.n_features is not None:
            sections.append(("Signature", f"{signature.n_features} unnamed features"))
        if signature.output:
            out = dict(signature.output)
            label = out.pop("kind", "")
            classes = out.pop("classes", None)
            text = f"predict returns {label}"
            if classes is not None:
                text += ": " + ", ".join(map(str, classes[:20]))
            sections.append(("Output", text))
        history = mv._store.models.history(mv.name)
        rows = [
            [
                _when(h["at"]),
                str(h["version"]),
                h["action"],
                h["from_stage"] or "-",
                h["to_stage"] or "-",
                h["user_name"] or "-",
                h["reason"] or "",
            ]
            for h in history
            if h["version"] == mv.version
        ]
        sections.append(
            ("History", (["when", "version", "action", "from", "to", "user", "reason"], rows))
        )
        return sections

    def _lineage(self, info: dict) -> dict[str, str]:
        mv = self.version
        lineage: dict[str, str] = {}
        run = mv.run
        if run is None:
            lineage["Run"] = "none recorded (registered outside a tracked run)"
            return lineage
        try:
            row = run.info
        except RunNotFound:
            lineage["Run"] = f"{info['run_id']} (deleted)"
            return lineage
        lineage["Run"] = f"{run.run_id} ({row['name'] or 'unnamed'}, {row['status']})"
        lineage["Experiment"] = row["experiment"]
        git = run.git
        if git["commit"]:
            lineage["Git"] = f"{git['commit'][:12]} on {git['branch'] or '(detached)'}" + (
                " with uncommitted changes" if git["dirty"] else ""
            )
        if row["source"]:
            lineage["Notebook / script"] = row["source"]
        inputs, outputs = run.inputs, run.outputs
        # Data passed to fit in a %%track cell; else whatever the run logged as its inputs.
        trained = {
            n: d for n, d in {**inputs, **outputs}.items() if d["info"].get("used_in_fit")
        } or {n: d for n, d in inputs.items() if d["kind"] != "estimator"}
        if trained:
            lineage["Training data"] = "; ".join(
                f"{name} ({'×'.join(map(str, data['shape'] or ()))}, sha256 {data['digest'][:12]}…)"
                for name, data in trained.items()
            )
        features = [c.name for c in mv.signature.columns]
        if features:
            lineage["Features"] = ", ".join(features)
        packages = mv.packages
        lineage["Packages"] = ", ".join(f"{k} {val}" for k, val in packages.items())
        lineage["Graph"] = f"nbmlops.lineage({mv.uri!r}) (data → run → version → approvals)"
        return lineage

    def _governance(self) -> list[tuple[str, Any]]:
        """The model's policy and this version's promotion requests."""
        mv = self.version
        store = mv._store
        sections: list[tuple[str, Any]] = []
        policy = store.governance.policy(mv.name) or {}
        if policy:
            rows = [
                [
                    stage,
                    str(rule["approvals"]),
                    "yes" if rule["separate_approver"] else "no",
                    "; ".join(rule["gates"]) or "-",
                ]
                for stage, rule in sorted(policy.items())
            ]
            sections.append(
                ("Policy", (["stage", "approvals", "separate approver", "gates"], rows))
            )
        requests = [
            r for r in store.governance.requests(mv.name, status=None) if r["version"] == mv.version
        ]
        if requests:
            rows = [
                [
                    str(r["id"]),
                    r["to_stage"],
                    r["status"],
                    r["requested_by"] or "-",
                    ", ".join(d["user_name"] for d in r["decisions"] if d["decision"] == "approve")
                    or "-",
                    r["outcome"] or "",
                ]
                for r in reversed(requests)
            ]
            sections.append(
                (
                    "Approvals",
                    (["request", "to", "status", "requested by", "approved by", "outcome"], rows),
                )
            )
        return sections

    # -- rendering -----------------------------------------------------------------------------

    def to_markdown(self) -> str:
        mv = self.version
        lines = [f"# Model card: {_md_line(mv.name)} v{mv.version}", ""]
        for title, content in self.sections:
            lines += [f"## {_md_line(title)}", ""]
            if isinstance(content, str):
                lines += [_md(content), ""]
            elif isinstance(content, dict):
                lines += [f"- **{_md_cell(k)}**: {_md_cell(val)}" for k, val in content.items()]
                lines.append("")
            else:
                header, rows = content
                lines.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
                lines.append("|" + "---|" * len(header))
                lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
                lines.append("")
        return "\n".join(lines)

    def to_html(self, compact: bool = False) -> str:
        """Self-contained HTML; ``compact`` keeps only the overview, metrics and lineage."""
        mv = self.version
        esc = html.escape
        keep = {"Overview", "Metrics", "Lineage"}
        parts = [
            '<div class="nbmlops-model-card" style="font-family:system-ui,sans-serif;'
            'max-width:60em">',
            f"<h2>Model card: {esc(mv.name)} v{mv.version}</h2>",
        ]
        for title, content in self.sections:
            if compact and title not in keep:
                continue
            parts.append(f"<h3>{esc(title)}</h3>")
            if isinstance(content, str):
                parts.append('<p style="white-space:pre-wrap">' + esc(content) + "</p>")
            elif isinstance(content, dict):
                parts.append("<table>")
                parts += [
                    f'<tr><th style="text-align:left;padding-right:1em">{esc(k)}</th>'
                    f"<td>{esc(_fmt(val))}</td></tr>"
                    for k, val in content.items()
                ]
                parts.append("</table>")
            else:
                header, rows = content
                parts.append('<table style="border-collapse:collapse">')
                parts.append(
                    "<tr>"
                    + "".join(
                        f'<th style="text-align:left;padding:2px 8px;border-bottom:1px solid #999">'
                        f"{esc(h)}</th>"
                        for h in header
                    )
                    + "</tr>"
                )
                for row in rows:
                    parts.append(
                        "<tr>"
                        + "".join(f'<td style="padding:2px 8px">{esc(_fmt(c))}</td>' for c in row)
                        + "</tr>"
                    )
                parts.append("</table>")
        parts.append("</div>")
        return "\n".join(parts)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return self.to_html()

    def save(self, path: str | Path) -> Path:
        """Write the card to ``path``: HTML for ``.html``/``.htm``, Markdown for ``.md``."""
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix in (".html", ".htm"):
            body = (
                '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
                f"<title>{html.escape(self.version.uri)}</title></head><body>\n"
                + self.to_html()
                + "\n</body></html>\n"
            )
        elif suffix in (".md", ".markdown"):
            body = self.to_markdown()
        else:
            raise InvalidModel(
                f"cannot tell the format of {str(target)!r}: end the name with .html or .md"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
        return target
