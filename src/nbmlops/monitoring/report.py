"""``DriftReport``: the result of :func:`nbmlops.drift_report`, to read, explain, display,
save in the workspace and write as one standalone HTML file."""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import time
import uuid
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import get_settings
from ..errors import MonitoringError
from ..store import get_store
from ..tracking import _validate as v
from ._column import ColumnDrift
from ._figure import drift_figure
from ._links import model_version_of, run_id_of

if TYPE_CHECKING:
    import pandas as pd

SUMMARY_COLUMNS = [
    "column",
    "role",
    "kind",
    "method",
    "statistic",
    "p_value",
    "p_adjusted",
    "threshold",
    "drifted",
    "psi",
    "null_reference",
    "null_current",
    "n_reference",
    "n_current",
    "top_segment",
    "notes",
]
PLOTLY_CDN = "https://cdn.plot.ly/plotly-basic-{version}.min.js"
_ASSET = "plotly-basic.min.js"
_ASSET_VERSION = "4.1.1"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _script_json(data: Any) -> str:
    """JSON safe to embed in a <script> element: no '<', '>' or '&' can close it."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, default=_jsonable)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _clean(value: Any) -> Any:
    """NaN/inf → None, recursively, so the JSON is standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class DriftReport:
    """Per-column drift, the dataset verdict, performance drift and where shifts come from.

    >>> report = nbmlops.drift_report(reference, current)  # doctest: +SKIP
    >>> report.summary.head()  # doctest: +SKIP
    >>> report.explain("income")  # doctest: +SKIP
    >>> report.to_html("drift.html")  # doctest: +SKIP
    """

    def __init__(
        self,
        columns: list[ColumnDrift] | list[dict],
        reference_shape: tuple[int, int],
        current_shape: tuple[int, int],
        options: dict[str, Any],
        performance: dict[str, Any] | None,
        seconds: float,
        created_at: float,
        report_id: str | None = None,
    ):
        self.columns = [c.to_dict() if isinstance(c, ColumnDrift) else dict(c) for c in columns]
        self.reference_shape = tuple(reference_shape)
        self.current_shape = tuple(current_shape)
        self.options = options
        self.performance = performance
        self.seconds = seconds
        self.created_at = created_at
        self.report_id = report_id

    # -- verdicts ------------------------------------------------------------------------------

    @property
    def features(self) -> list[dict]:
        return [c for c in self.columns if c["role"] == "feature"]

    @property
    def drifted_columns(self) -> list[str]:
        """Feature columns that drifted, most shifted (by PSI) first."""
        return [c["column"] for c in self._ordered(self.features) if c["drifted"]]

    @property
    def drift_share(self) -> float:
        """Share of feature columns that drifted."""
        features = self.features
        return sum(c["drifted"] for c in features) / len(features) if features else 0.0

    @property
    def dataset_drift(self) -> bool:
        """True when at least ``drift_share`` (default half) of the feature columns drifted."""
        return bool(self.features) and self.drift_share >= self.options.get("drift_share", 0.5)

    @property
    def target_drift(self) -> dict | None:
        return next((c for c in self.columns if c["role"] == "target"), None)

    @property
    def prediction_drift(self) -> dict | None:
        return next((c for c in self.columns if c["role"] == "prediction"), None)

    @staticmethod
    def _ordered(columns: list[dict]) -> list[dict]:
        return sorted(columns, key=lambda c: (not c["drifted"], -(c["psi"] or 0.0)))

    @property
    def summary(self) -> pd.DataFrame:
        """One row per column, drifted first, then by PSI (the drift score) descending."""
        import pandas as pd

        rows = []
        for c in self._ordered(self.columns):
            top = c["segments"][0] if c["segments"] else None
            rows.append(
                {
                    **{k: c.get(k) for k in SUMMARY_COLUMNS if k not in ("top_segment", "notes")},
                    "top_segment": (
                        f"{top['segment']}={top['value']} ({top['share_of_psi']:.0%} of PSI)"
                        if top and top["share_of_psi"] == top["share_of_psi"]
                        else None
                    ),
                    "notes": "; ".join(c["notes"]),
                }
            )
        frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
        for name in ("statistic", "p_value", "p_adjusted", "threshold", "psi"):
            frame[name] = frame[name].astype(float)
        return frame

    @property
    def performance_table(self) -> pd.DataFrame | None:
        """``metric, reference, current, change`` when target and prediction were given."""
        import pandas as pd

        if not self.performance or not self.performance.get("metrics"):
            return None
        return pd.DataFrame(self.performance["metrics"])

    def column(self, name: str) -> dict:
        for c in self.columns:
            if c["column"] == name:
                return c
        raise MonitoringError(
            f"the report has no column {name!r}; it has {', '.join(c['column'] for c in self.columns)}"
        )

    def segments(self, column: str) -> pd.DataFrame:
        """The segments ranked by their share of ``column``'s PSI."""
        import pandas as pd

        return pd.DataFrame(
            self.column(column)["segments"],
            columns=[
                "segment",
                "value",
                "contribution",
                "share_of_psi",
                "rows_reference",
                "rows_current",
                "segment_psi",
            ],
        )

    def explain(self, column: str | None = None) -> str:
        """A sentence per drifted column (or for ``column``): what moved, how much, and the
        segment driving it."""
        targets = (
            [self.column(column)]
            if column
            else [c for c in self._ordered(self.columns) if c["drifted"]]
        )
        if not targets:
            return "no column drifted"
        return "\n".join(self._sentence(c) for c in targets)

    @staticmethod
    def _sentence(c: dict) -> str:
        if c["method"] is None:
            return f"{c['column']}: " + "; ".join(c["notes"])
        if c["method"] in ("ks", "chi2"):
            measure = (
                f"{c['method']} adjusted p={c['p_adjusted']:.3g} < {c['threshold']:g}"
                if c["drifted"]
                else f"{c['method']} adjusted p={c['p_adjusted']:.3g}"
            )
        else:
            sign = "≥" if c["drifted"] else "<"
            measure = f"{c['method']} {c['statistic']:.3g} {sign} {c['threshold']:g}"
        verb = "shifted" if c["drifted"] else "did not drift"
        text = f"{c['column']} {verb} ({measure}; PSI {c['psi']:.3f})"
        plot = c.get("plot") or {}
        if plot.get("type") == "numeric":
            text += f", mean {plot['mean'][0]:.4g} → {plot['mean'][1]:.4g}"
        top = c["segments"][0] if c["segments"] else None
        if top and c["drifted"] and top["share_of_psi"] == top["share_of_psi"]:
            text += (
                f", driven by {top['segment']}={top['value']} ({top['rows_current']:.0%} of "
                f"rows, {top['share_of_psi']:.0%} of the PSI)"
            )
        if c["notes"]:
            text += " [" + "; ".join(c["notes"]) + "]"
        return text

    # -- serialization -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "report_id": self.report_id,
                "created_at": self.created_at,
                "seconds": self.seconds,
                "reference_shape": list(self.reference_shape),
                "current_shape": list(self.current_shape),
                "options": self.options,
                "dataset_drift": self.dataset_drift,
                "drift_share": self.drift_share,
                "drifted_columns": self.drifted_columns,
                "columns": self.columns,
                "performance": self.performance,
            }
        )

    def to_json(self, path: str | Path | None = None, indent: int | None = None) -> str | None:
        """The report as JSON (standard: NaN becomes null).

        Returned as a string, or written to ``path`` (then ``None`` is returned, as in pandas,
        so a notebook cell ending with ``report.to_json("drift.json")`` shows nothing).
        """
        text = json.dumps(self.to_dict(), indent=indent, default=_jsonable)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
            return None
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftReport:
        def restore(value: Any) -> Any:
            return math.nan if value is None else value

        columns = []
        for c in data["columns"]:
            c = dict(c)
            for key in ("psi", "null_reference", "null_current"):
                c[key] = restore(c.get(key))
            c.pop("null_shift", None)
            columns.append(c)
        return cls(
            columns,
            tuple(data["reference_shape"]),
            tuple(data["current_shape"]),
            data["options"],
            data.get("performance"),
            data.get("seconds", 0.0),
            data["created_at"],
            data.get("report_id"),
        )

    @classmethod
    def from_json(cls, text: str) -> DriftReport:
        return cls.from_dict(json.loads(text))

    def save(self, name: str | None = None, run=None, model: str | None = None) -> str:
        """Store the report (JSON and HTML) in the workspace, linked to a run (a ``Run`` or id;
        default: the active run) and/or a model version (``"models:/churn/3"``); return its id.
        """
        self.report_id = _save(self, name, run, model)
        return self.report_id

    # -- display -------------------------------------------------------------------------------

    def headline(self) -> str:
        features = self.features
        verdict = "DATASET DRIFT" if self.dataset_drift else "no dataset drift"
        return (
            f"{verdict}: {sum(c['drifted'] for c in features)} of {len(features)} columns "
            f"drifted ({self.drift_share:.0%}; threshold "
            f"{self.options.get('drift_share', 0.5):.0%}) · reference "
            f"{self.reference_shape[0]:,} rows, current {self.current_shape[0]:,} rows"
        )

    def __repr__(self) -> str:
        lines = [f"<DriftReport {self.headline()}>"]
        for c in self._ordered(self.columns)[:10]:
            if c["drifted"]:
                lines.append("  " + self._sentence(c))
        return "\n".join(lines)

    def figure_dict(self, columns: list[str] | None = None) -> dict[str, Any]:
        chosen = self._ordered(self.columns)
        if columns is not None:
            chosen = [self.column(c) for c in columns]
        return _clean(drift_figure(chosen, self.headline()))

    def figure(self, columns: list[str] | None = None):
        """The interactive figure as a ``plotly.graph_objects.Figure``."""
        import plotly.graph_objects as go

        return go.Figure(self.figure_dict(columns))

    def _tables_html(self) -> str:
        summary = self.summary
        head = "".join(f"<th>{_esc(c)}</th>" for c in summary.columns)
        body = []
        for row in summary.itertuples(index=False):
            style = ' style="background:#fde8e4"' if row.drifted else ""
            body.append(
                f"<tr{style}>" + "".join(f"<td>{_esc(_fmt(v))}</td>" for v in row) + "</tr>"
            )
        parts = [
            f'<p class="nbmlops-headline"><b>{_esc(self.headline())}</b></p>',
            '<div style="max-height:420px;overflow:auto"><table class="nbmlops-summary">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>",
        ]
        perf = self.performance_table
        if perf is not None:
            rows = "".join(
                "<tr>" + "".join(f"<td>{_esc(_fmt(v))}</td>" for v in r) + "</tr>"
                for r in perf.itertuples(index=False)
            )
            parts.append(
                f"<h3>Performance ({_esc(self.performance['task'])})</h3>"
                '<table class="nbmlops-summary"><thead><tr><th>metric</th><th>reference</th>'
                f"<th>current</th><th>change</th></tr></thead><tbody>{rows}</tbody></table>"
            )
        return "\n".join(parts)

    _STYLE = (
        "<style>.nbmlops-summary{border-collapse:collapse;font:13px system-ui,sans-serif}"
        ".nbmlops-summary th,.nbmlops-summary td{padding:3px 8px;border-bottom:1px solid #ddd;"
        "text-align:left;white-space:nowrap}.nbmlops-summary th{position:sticky;top:0;"
        "background:#fff}</style>"
    )

    def to_html(self, path: str | Path | None = None, plotlyjs: str = "inline") -> str | None:
        """One standalone HTML page: verdict, summary table, performance, interactive figure.

        ``plotlyjs="inline"`` embeds plotly.js (its 1.2 MB basic bundle) so the file works
        offline; ``"cdn"`` loads it from cdn.plot.ly for a file of a few hundred KB. The page
        is returned as a string, or written to ``path`` (then ``None`` is returned, as in
        pandas, so a cell ending with ``report.to_html("drift.html")`` does not print 1.2 MB).
        """
        if plotlyjs == "inline":
            source = (
                resources.files(__package__).joinpath("_static", _ASSET).read_text(encoding="utf-8")
            )
            script = f"<script>{source}</script>"
        elif plotlyjs == "cdn":
            script = f'<script src="{PLOTLY_CDN.format(version=_ASSET_VERSION)}"></script>'
        else:
            raise MonitoringError(f"plotlyjs is 'inline' or 'cdn', got {plotlyjs!r}")
        when = dt.datetime.fromtimestamp(self.created_at, dt.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        )
        page = (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            "<title>nbmlops drift report</title>" + self._STYLE + script + "</head><body "
            'style="font-family:system-ui,sans-serif;margin:16px">\n'
            f'<h2>Drift report <small style="color:#666">{_esc(when)}</small></h2>\n'
            + self._tables_html()
            + '\n<div id="nbmlops-drift-figure" style="width:100%;height:560px"></div>\n'
            "<script>(function(){var fig="
            + _script_json(self.figure_dict())
            + ";Plotly.newPlot('nbmlops-drift-figure',fig.data,fig.layout,"
            "{responsive:true,displaylogo:false});})();</script>\n</body></html>\n"
        )
        if path is not None:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(page, encoding="utf-8")
            return None
        return page

    def _repr_html_(self) -> str:
        return self._STYLE + self._tables_html()

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        display(HTML(self._repr_html_()))
        if self.columns:
            display(self.figure())


def _save(report: DriftReport, name: str | None, run, model) -> str:
    if name is not None:
        name = v.key("report name", name)
    store = get_store(get_settings())
    run_id = run_id_of(store, run)
    model_name, model_version = model_version_of(model)
    report_id = uuid.uuid4().hex
    report.report_id = report_id
    json_digest, json_size = store.artifacts.put_bytes(report.to_json().encode("utf-8"))
    page = report.to_html().encode("utf-8")
    html_digest, html_size = store.artifacts.put_bytes(page)
    features = report.features
    store.monitoring.add_report(
        {
            "report_id": report_id,
            "name": name,
            "created_at": time.time(),
            "run_id": run_id,
            "model_name": model_name,
            "model_version": model_version,
            "dataset_drift": report.dataset_drift,
            "n_drifted": len(report.drifted_columns),
            "n_columns": len(features),
            "drifted_columns": json.dumps(report.drifted_columns),
            "reference_rows": report.reference_shape[0],
            "current_rows": report.current_shape[0],
            "json_digest": json_digest,
            "html_digest": html_digest,
            "html_size": html_size,
        }
    )
    if run_id is not None:
        label = name or report_id[:8]
        for suffix, digest, size, media in (
            ("json", json_digest, json_size, "application/json"),
            ("html", html_digest, html_size, "text/html"),
        ):
            store.meta.add_artifacts(
                run_id,
                [
                    {
                        "name": f"drift/{label}.{suffix}",
                        "digest": digest,
                        "size": size,
                        "media_type": media,
                        "created_at": time.time(),
                    }
                ],
            )
    return report_id
