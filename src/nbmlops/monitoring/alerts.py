"""Alerts raised by monitors: what fired, which columns moved and where, and what retraining
did about it."""

from __future__ import annotations

import json
import numbers
from typing import TYPE_CHECKING

from .. import _args
from ..config import get_settings
from ..errors import MonitoringError
from ..store import get_store

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = [
    "alert_id",
    "created_at",
    "monitor",
    "model_name",
    "model_version",
    "summary",
    "drifted_columns",
    "report_id",
    "retrain_status",
    "challenger_version",
]


def alerts(
    monitor: str | None = None, model: str | None = None, status: str | None = None
) -> pd.DataFrame:
    """Alerts, oldest first; ``monitor``, ``model`` or ``status`` (the retraining status:
    ``none``, ``running``, ``promoted``, ``awaiting``, ``staged``, ``failed``) narrow them."""
    import pandas as pd

    for label, value in (("monitor", monitor), ("model", model), ("status", status)):
        _args.text(value, f"alerts({label}=...)", optional=True)
    rows = get_store(get_settings()).loop.alerts(monitor, model, status)
    records = []
    for row in rows:
        context = json.loads(row["context"])
        records.append(
            {
                "alert_id": row["id"],
                "created_at": row["created_at"],
                "monitor": row["monitor"],
                "model_name": row["model_name"],
                "model_version": row["model_version"],
                "summary": row["summary"],
                "drifted_columns": ", ".join(d["column"] for d in context.get("drifted", [])),
                "report_id": context.get("report_id"),
                "retrain_status": row["retrain_status"],
                "challenger_version": row["challenger_version"],
            }
        )
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    frame["created_at"] = pd.to_datetime(frame["created_at"].astype(float), unit="s", utc=True)
    frame["challenger_version"] = frame["challenger_version"].astype("Int64")
    return frame


def get_alert(alert_id: int) -> dict:
    """Everything recorded about one alert: its row, ``context`` (checks that fired, drifted
    columns with top segments, metrics, report link) and ``retrain`` (gate table, decision)."""
    if isinstance(alert_id, bool) or not isinstance(alert_id, numbers.Integral):
        raise MonitoringError(f"an alert id is an integer, got {alert_id!r}")
    alert_id = int(alert_id)  # numpy integers come from nbmlops.alerts().alert_id
    # Ids are 64-bit in the store: a larger number names no alert (and overflows a query).
    row = get_store(get_settings()).loop.alert(alert_id) if 0 < alert_id < 2**63 else None
    if row is None:
        raise MonitoringError(f"no alert with id {alert_id}; list them with nbmlops.alerts()")
    row["context"] = json.loads(row["context"])
    row["retrain"] = json.loads(row["retrain"]) if row["retrain"] else None
    return row
