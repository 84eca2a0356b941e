"""Drift reports kept in the workspace: list them, open them again.

A saved report (:meth:`DriftReport.save`) is two content-addressed artifacts (its JSON and its
standalone HTML) plus a row that links it to a run and/or a model version, so
``nbmlops.drift_reports()`` can list them and the JupyterLab panel can open them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .. import _args
from ..config import get_settings
from ..store import get_store
from .report import DriftReport

if TYPE_CHECKING:
    import pandas as pd


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
