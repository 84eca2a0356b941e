"""Drift reports kept in the workspace: save, list, open again.

A saved report is two content-addressed artifacts (its JSON and its standalone HTML) plus a row
that links it to a run and/or a model version, so ``nbmlops.drift_reports()`` can list them
and the JupyterLab panel can open them.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from .. import _args
from ..config import get_settings
from ..errors import MonitoringError
from ..store import get_store
from ..tracking import _validate as v

if TYPE_CHECKING:
    import pandas as pd

    from .report import DriftReport


def _run_id(store, run) -> str | None:
    from ..tracking._active import active_run
    from ..tracking.run import Run

    if run is None:
        active = active_run()
        return active.run_id if active is not None else None
    if isinstance(run, Run):
        return run.run_id
    if isinstance(run, str):
        return store.meta.resolve_run_id(run)
    raise MonitoringError(f"run= takes a Run or a run id, got {type(run).__name__}")


def _model(model: Any) -> tuple[str | None, int | None]:
    if model is None:
        return None, None
    from ..registry import ModelVersion, get_model

    mv = model if isinstance(model, ModelVersion) else get_model(model)
    return mv.name, mv.version


def save_report(report: DriftReport, name: str | None = None, run=None, model=None) -> str:
    if name is not None:
        name = v.key("report name", name)
    store = get_store(get_settings())
    run_id = _run_id(store, run)
    model_name, model_version = _model(model)
    report_id = uuid.uuid4().hex
    report.report_id = report_id
    json_digest, json_size = store.artifacts.put_bytes(report.to_json().encode("utf-8"))
    html = report.to_html().encode("utf-8")
    html_digest, html_size = store.artifacts.put_bytes(html)
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


def drift_reports(model: str | None = None) -> pd.DataFrame:
    """Saved drift reports, newest first (``model=`` keeps those of one registered model)."""
    import pandas as pd

    _args.text(model, "drift_reports(model=...)", optional=True)
    rows = get_store(get_settings()).monitoring.reports(model)
    frame = pd.DataFrame(
        [
            {
                "report_id": r["report_id"],
                "name": r["name"],
                "created_at": r["created_at"],
                "dataset_drift": bool(r["dataset_drift"]),
                "drifted": f"{r['n_drifted']}/{r['n_columns']}",
                "drifted_columns": ", ".join(json.loads(r["drifted_columns"])),
                "run_id": r["run_id"],
                "model": f"{r['model_name']}/{r['model_version']}" if r["model_name"] else None,
                "reference_rows": r["reference_rows"],
                "current_rows": r["current_rows"],
            }
            for r in rows
        ],
        columns=[
            "report_id",
            "name",
            "created_at",
            "dataset_drift",
            "drifted",
            "drifted_columns",
            "run_id",
            "model",
            "reference_rows",
            "current_rows",
        ],
    )
    frame["created_at"] = pd.to_datetime(frame["created_at"].astype(float), unit="s", utc=True)
    return frame


def load_drift_report(report_id: str) -> DriftReport:
    """A saved report by id (a unique prefix is enough), verified against its sha256."""
    from .report import DriftReport

    _args.text(report_id, "load_drift_report(report_id=...)")
    store = get_store(get_settings())
    row = store.monitoring.report(report_id)
    data = store.artifacts.get_bytes(row["json_digest"], f"drift report {row['report_id']}")
    return DriftReport.from_json(data.decode("utf-8"))


def drift_report_html(report_id: str) -> str:
    """The saved standalone HTML of a report."""
    store = get_store(get_settings())
    row = store.monitoring.report(report_id)
    return store.artifacts.get_bytes(row["html_digest"], "drift report HTML").decode("utf-8")
