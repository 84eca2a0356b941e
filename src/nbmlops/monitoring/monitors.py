"""Monitors: a saved watch over a model's prediction log, run on a schedule (cron, CI,
``nbmlops monitor run NAME``) or from the notebook (``%monitor NAME``).

Each run takes the window ``(at - window, at]`` of logged traffic of the version that served
most of it, builds a drift report of its inputs and predictions against that version's reference
(recorded at registration, else the monitor's ``reference=``), computes performance on the rows
whose labels have arrived, evaluates the checks (:mod:`nbmlops.monitoring.checks`) and records
the run, and an alert with its context when a check fires. An alert can start retraining
(:mod:`nbmlops.monitoring.retrain`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from typing import TYPE_CHECKING, Any

from .. import _args
from ..config import get_settings
from ..errors import MonitoringError, MonitorNotFound
from ..predictions.log import ID, LABEL, PREDICTION, VERSION, inputs_of, prediction_log, to_epoch
from ..store import get_store
from ..tracking import _validate as v
from . import checks as c
from ._definition import DEFAULT_CHECKS, MonitorDefinition

if TYPE_CHECKING:
    import pandas as pd

    from .report import DriftReport

TOP_SEGMENTS = 3


def _store():
    return get_store(get_settings())


_UNITS = {"s": 1, "min": 60, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w)\s*$", re.IGNORECASE)


def window_seconds(window: object) -> float:
    """Seconds in a window such as ``"1d"``, ``"7d"``, ``"12h"``, ``"30min"`` or ``"2w"``."""
    match = _DURATION.match(window) if isinstance(window, str) else None
    seconds = float(match[1]) * _UNITS[match[2].lower()] if match else 0.0
    if not seconds > 0:
        raise MonitoringError(
            f"window is a duration such as '1d', '7d', '12h' or '30min', got {window!r}"
        )
    return seconds


class Monitor(MonitorDefinition):
    """A saved monitor; :meth:`run` checks one window. Create it with :func:`nbmlops.monitor`."""

    def run(self, at: Any = None, retrain: bool = True) -> MonitorResult:
        """Check the window ending at ``at`` (default now); retrain on alert when the monitor
        names a pipeline and ``retrain`` is true."""
        return run_monitor(self, at, retrain)

    def history(self) -> pd.DataFrame:
        """One row per run: window, version, status, rows, drift share, metrics, alert."""
        return monitor_history(self.name)

    def timeline(self):
        """A plotly figure of drift share and metrics per window, alerts and promotions marked."""
        from ._timeline import timeline_figure

        return timeline_figure(self, self.history())

    def alerts(self) -> pd.DataFrame:
        from .alerts import alerts

        return alerts(monitor=self.name)


@dataclasses.dataclass
class MonitorResult:
    """What one monitor run found."""

    monitor: str
    model_name: str
    model_version: int | None
    status: str  # ok | alert | no_data
    window_start: float
    window_end: float
    rows: int
    labelled: int
    checks: Any  # DataFrame: check, value, threshold, held, alert, detail, columns
    metrics: dict[str, float]
    baseline: dict[str, float]
    report: DriftReport | None
    report_id: str | None
    run_id: int
    alert_id: int | None = None
    alert: dict[str, Any] | None = None
    retrain: dict[str, Any] | None = None

    @property
    def alerted(self) -> bool:
        return self.status == "alert"

    def summary(self) -> str:
        when = _iso(self.window_end)
        head = (
            f"monitor {self.monitor} · {self.model_name} v{self.model_version} · window ending "
            f"{when}: {self.status.upper()} ({self.rows} rows, {self.labelled} labelled)"
        )
        lines = [head]
        if self.alert:
            lines.append("  " + self.alert["summary"])
        if self.retrain:
            lines.append(f"  retraining: {self.retrain.get('message', '')}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<MonitorResult {self.summary()}>"

    def _repr_html_(self) -> str:
        import html

        color = {"alert": "#cf222e", "ok": "#1a7f37"}.get(self.status, "#57606a")
        parts = [
            f"<p><b style='color:{color}'>{html.escape(self.status.upper())}</b> "
            + html.escape(self.summary().splitlines()[0])
            + "</p>"
        ]
        if self.alert:
            parts.append(f"<p>{html.escape(self.alert['summary'])}</p>")
        if self.retrain:
            parts.append(f"<p>retraining: {html.escape(self.retrain.get('message', ''))}</p>")
        parts.append(self.checks.to_html(index=False, escape=True, na_rep="—"))
        return "<div>" + "".join(parts) + "</div>"


def _iso(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# -- saving and finding -------------------------------------------------------------------------


def monitor(
    model_name: str,
    reference: Any = None,
    window: str = "1d",
    checks: list[str] | str | None = None,
    *,
    name: str | None = None,
    segments: list[str] | str | None = None,
    retrain: str | None = None,
    gates: list[str] | None = None,
    auto_promote: bool = False,
    holdout: float = 0.3,
    parameters: dict[str, Any] | None = None,
) -> Monitor:
    """Save (create or replace) a monitor of ``model_name``'s logged predictions; return it.

    ``reference`` (a DataFrame of training inputs) is used for versions that recorded none at
    registration. ``checks`` are sentences such as ``"psi > 0.25 on income"`` or
    ``"f1 drops by more than 0.05"`` (see :mod:`nbmlops.monitoring.checks`; default
    ``["dataset_drift"]``); ``segments`` columns rank where a drift comes from. ``retrain``
    names a ``pipeline.yaml`` run on alert: the version it registers is evaluated beside the
    champion on the window's held-out rows (``holdout`` share, by id) and promoted when
    ``gates`` pass and ``auto_promote=True``; otherwise it waits in ``staging``.

    >>> import nbmlops
    >>> nbmlops.monitor("churn", window="7d", checks=["psi > 0.25 on income",
    ...                 "f1 drops by more than 0.05"], retrain="retrain/pipeline.yaml")  # doctest: +SKIP
    """
    from ..predictions.log import holdout_mask
    from ..predictions.reference import reference_digest
    from ..registry._names import model_name as valid_model_name
    from ..registry.gates import validate_gates

    model = valid_model_name(model_name)
    name = v.key("monitor name", name if name is not None else model)
    window_seconds(window)
    parsed = c.parse_checks(DEFAULT_CHECKS if checks is None else checks)
    segments = _args.strings(segments, "monitor(segments=...)", optional=True)
    auto_promote = _args.flag(auto_promote, "monitor(auto_promote=...)")
    if retrain is not None:
        from ..pipelines.dag import load

        retrain = str(load(retrain).path)  # a broken pipeline.yaml fails now, not on alert
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 < holdout < 1:
        raise MonitoringError(f"holdout is a fraction in (0, 1), got {holdout!r}")
    holdout_mask([], holdout)
    if parameters is not None and not isinstance(parameters, dict):
        raise MonitoringError(f"parameters is a dict, got {type(parameters).__name__}")
    definition = Monitor(
        name=name,
        model_name=model,
        window=str(window),
        checks=[p.text for p in parsed],
        segments=list(segments or []),
        reference_digest=None if reference is None else reference_digest(reference),
        retrain=retrain,
        gates=validate_gates(gates) or None,
        auto_promote=bool(auto_promote),
        holdout=float(holdout),
        parameters=dict(parameters or {}),
    )
    now = time.time()
    from ..registry._context import current_user

    _store().loop.save_monitor(
        {
            "name": name,
            "model_name": model,
            "definition": definition.to_json(),
            "updated_at": now,
            "user_name": current_user(),
        }
    )
    return definition


def get_monitor(name: str) -> Monitor:
    """The saved monitor ``name`` (:class:`~nbmlops.errors.MonitorNotFound` if none)."""
    store = _store()
    row = store.loop.monitor(name) if isinstance(name, str) and _args.encodable(name) else None
    if row is None:
        raise MonitorNotFound(str(name), [m["name"] for m in store.loop.monitors()])
    return Monitor(**json.loads(row["definition"]))


def monitors() -> pd.DataFrame:
    """Every saved monitor with its last run."""
    import pandas as pd

    store = _store()
    records = []
    for row in store.loop.monitors():
        m = Monitor(**json.loads(row["definition"]))
        runs = store.loop.runs(m.name)
        last = runs[-1] if runs else None
        records.append(
            {
                "name": m.name,
                "model": m.model_name,
                "window": m.window,
                "checks": "; ".join(m.checks),
                "retrain": m.retrain,
                "auto_promote": m.auto_promote,
                "runs": len(runs),
                "last_status": last["status"] if last else None,
                "last_window_end": (
                    pd.Timestamp(last["window_end"], unit="s", tz="UTC") if last else pd.NaT
                ),
            }
        )
    return pd.DataFrame(
        records,
        columns=[
            "name",
            "model",
            "window",
            "checks",
            "retrain",
            "auto_promote",
            "runs",
            "last_status",
            "last_window_end",
        ],
    )


def monitor_history(name: str) -> pd.DataFrame:
    """One row per run of monitor ``name``, oldest first."""
    import pandas as pd

    get_monitor(name)
    store = _store()
    alerts = {a["monitor_run_id"]: a for a in store.loop.alerts(monitor=name)}
    records = []
    for row in store.loop.runs(name):
        result = json.loads(row["result"])
        alert = alerts.get(row["id"])
        records.append(
            {
                "run": row["id"],
                "window_start": row["window_start"],
                "window_end": row["window_end"],
                "model_version": row["model_version"],
                "status": row["status"],
                "rows": row["rows"],
                "labelled": row["labelled"],
                "drift_share": row["drift_share"],
                "drifted_columns": ", ".join(result.get("drifted_columns", [])),
                **{f"metrics.{k}": val for k, val in result.get("metrics", {}).items()},
                "alert": alert["summary"] if alert else None,
                "retrain_status": alert["retrain_status"] if alert else None,
                "challenger_version": alert["challenger_version"] if alert else None,
                "report_id": row["report_id"],
            }
        )
    base = [
        "run",
        "window_start",
        "window_end",
        "model_version",
        "status",
        "rows",
        "labelled",
        "drift_share",
        "drifted_columns",
    ]
    metric_cols = sorted({k for r in records for k in r if k.startswith("metrics.")})
    tail = ["alert", "retrain_status", "challenger_version", "report_id"]
    frame = pd.DataFrame.from_records(records, columns=base + metric_cols + tail)
    for column in ("window_start", "window_end"):
        frame[column] = pd.to_datetime(frame[column].astype(float), unit="s", utc=True)
    frame["challenger_version"] = frame["challenger_version"].astype("Int64")
    return frame


# -- running ------------------------------------------------------------------------------------


def _baseline(store, m: Monitor, mv) -> dict[str, float]:
    """The version's metrics when this monitor first watched it (kept, so a later evaluation
    on drifted data does not move the bar)."""
    for row in store.loop.runs(m.name):
        if row["model_version"] == mv.version:
            kept = json.loads(row["result"]).get("baseline")
            if kept:
                return kept
    return {k: float(val) for k, val in mv.metrics.items() if k in c.METRICS and c._finite(val)}


def window_metrics(labels, predictions) -> dict[str, float]:
    """Performance of ``predictions`` against ``labels`` (classification or regression)."""
    import pandas as pd

    from .performance import _classification, _is_classification, _regression

    y = pd.Series(labels).reset_index(drop=True)
    p = pd.Series(predictions).reset_index(drop=True)
    if not len(y):
        return {}
    if _is_classification(y, p):
        classes = sorted(
            set(pd.unique(y.astype(object))) | set(pd.unique(p.astype(object))), key=str
        )
        return _classification(y.to_numpy(), p.to_numpy(), classes, False)
    return _regression(y.to_numpy(dtype=float), p.to_numpy(dtype=float))


def _drift(m: Monitor, mv, window: pd.DataFrame) -> DriftReport:
    import numpy as np

    from ..predictions.reference import load_reference
    from .drift import drift_report

    reference = load_reference(mv.name, mv.version)
    if reference is None and m.reference_digest is not None:
        reference = load_reference(digest=m.reference_digest)
    if reference is None:
        raise MonitoringError(
            f"{mv.uri} has no reference data to compare its traffic with: register it with "
            "nbmlops.register_model(..., reference=X_train), or give the monitor one: "
            f"nbmlops.monitor({m.model_name!r}, reference=X_train, ...)"
        )
    logged = inputs_of(window)
    columns = [col for col in reference.columns if col in logged]
    if not columns:
        raise MonitoringError(
            f"the reference of {mv.uri} shares no column with the logged inputs ({logged})"
        )
    segments = [s for s in m.segments if s in columns]
    ref = reference[columns].copy()
    cur = window[columns].reset_index(drop=True)
    try:
        ref[PREDICTION] = np.asarray(mv.predict(reference))
        cur[PREDICTION] = window[PREDICTION].to_numpy()
        prediction = PREDICTION
    except Exception:  # noqa: BLE001 - the reference lacks model inputs: drift of inputs only
        prediction = None
    return drift_report(ref, cur, prediction=prediction, segments=segments or None)


def _context(m: Monitor, mv, table, report, metrics, baseline, report_id) -> dict[str, Any]:
    fired = table.loc[table["alert"]]
    drifted = []
    if report is not None:
        for col in report._ordered(report.columns):
            if not col["drifted"]:
                continue
            top = [
                {
                    "segment": s["segment"],
                    "value": str(s["value"]),
                    "share_of_psi": s["share_of_psi"],
                    "rows_current": s["rows_current"],
                }
                for s in col["segments"][:TOP_SEGMENTS]
            ]
            drifted.append(
                {
                    "column": col["column"],
                    "role": col["role"],
                    "method": col["method"],
                    "statistic": col["statistic"],
                    "psi": col["psi"],
                    "top_segments": top,
                }
            )
    link = None
    if report_id is not None:
        row = _store().monitoring.report(report_id)
        link = _store().artifacts.path_of(row["html_digest"])
    parts = []
    for row in fired.to_dict("records"):
        text = row["check"]
        if row["columns"]:
            text += " (" + ", ".join(row["columns"][:5]) + ")"
        elif row["value"] is not None:
            text += f" ({row['value']:.4g})"
        parts.append(text)
    named = {col for row in fired.to_dict("records") for col in row["columns"]}
    ranked = sorted(drifted, key=lambda d: d["column"] not in named)
    top = next((d for d in ranked if d["top_segments"]), None)
    if top is not None:
        s = top["top_segments"][0]
        parts.append(f"{top['column']} driven by {s['segment']}={s['value']}")
    return {
        "summary": f"{mv.name} v{mv.version}: " + "; ".join(parts),
        "checks": fired.drop(columns=["held"]).to_dict("records"),
        "drifted": drifted,
        "metrics": metrics,
        "baseline": baseline,
        "report_id": report_id,
        "report_html": link,
        "report_url": f"/nbmlops/api/reports/{report_id}/html" if report_id else None,
    }


def run_monitor(m: Monitor, at: Any = None, retrain: bool = True) -> MonitorResult:
    import pandas as pd

    from ..registry import ModelVersion

    store = _store()
    end = to_epoch(at)
    start = end - window_seconds(m.window)
    # (start, end]: prediction_log reads [start, end), so shift both by a hair.
    window = prediction_log(m.model_name, start=start + 1e-6, end=end + 1e-6, as_of=end)
    parsed = c.parse_checks(m.checks)
    earlier = [r for r in store.loop.runs(m.name) if r["window_end"] < end]
    previous = {
        chk.text: [
            any(x["check"] == chk.text and x["held"] for x in json.loads(r["result"])["checks"])
            for r in earlier
        ]
        for chk in parsed
    }
    report = report_id = None
    metrics: dict[str, float] = {}
    baseline: dict[str, float] = {}
    version = None
    labelled = 0
    if len(window):
        version = int(window[VERSION].mode().iloc[0])
        window = window.loc[window[VERSION] == version].reset_index(drop=True)
        mv = ModelVersion(store, m.model_name, version)
        report = _drift(m, mv, window)
        report_id = report.save(name=f"monitor {m.name} {_iso(end)}", model=mv)
        done = window.loc[window[LABEL].notna()]
        labelled = len(done)
        metrics = window_metrics(done[LABEL], done[PREDICTION])
        baseline = _baseline(store, m, mv)
    rows = [c.evaluate(chk, report, metrics, baseline, previous[chk.text]) for chk in parsed]
    table = pd.DataFrame(rows, columns=c.COLUMNS)
    table["held"] = table["held"].astype(bool)
    table["alert"] = table["alert"].astype(bool)
    status = "no_data" if not len(window) else ("alert" if table["alert"].any() else "ok")
    alert = None
    if status == "alert":
        context = _context(m, mv, table, report, metrics, baseline, report_id)
        alert = {
            "monitor": m.name,
            "model_name": m.model_name,
            "model_version": version,
            "summary": context["summary"],
            "context": json.dumps(context, default=str),
            "retrain_status": "none",
        }
    run_row = {
        "monitor": m.name,
        "ran_at": time.time(),
        "window_start": start,
        "window_end": end,
        "model_name": m.model_name,
        "model_version": version,
        "status": status,
        "rows": int(len(window)),
        "labelled": int(labelled),
        "drift_share": None if report is None else float(report.drift_share),
        "report_id": report_id,
        "result": json.dumps(
            {
                "checks": table.to_dict("records"),
                "metrics": metrics,
                "baseline": baseline,
                "drifted_columns": [] if report is None else report.drifted_columns,
                "ids": int(window[ID].nunique()) if len(window) else 0,
            },
            default=str,
        ),
    }
    run_id, alert_id = store.loop.add_run(run_row, alert)
    result = MonitorResult(
        monitor=m.name,
        model_name=m.model_name,
        model_version=version,
        status=status,
        window_start=start,
        window_end=end,
        rows=int(len(window)),
        labelled=int(labelled),
        checks=table,
        metrics=metrics,
        baseline=baseline,
        report=report,
        report_id=report_id,
        run_id=run_id,
        alert_id=alert_id,
        alert=None if alert is None else json.loads(alert["context"]),
    )
    if alert_id is not None and retrain and m.retrain:
        from .retrain import retrain_after_alert

        result.retrain = retrain_after_alert(m, alert_id, start, end, version)
    return result
