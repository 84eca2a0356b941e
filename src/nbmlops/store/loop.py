"""Reads and writes of the monitoring loop: monitors, monitor runs and alerts (one short
transaction each). The prediction log and references are in :mod:`.predictions`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from . import _schema as t
from ._engine import read_transaction
from .metadata import _upsert


class LoopRecords:
    """The monitor, monitor run and alert tables of one metadata store."""

    def __init__(self, meta) -> None:
        self.meta = meta
        self.engine = meta.engine

    def _read(self, query) -> list[dict]:
        with read_transaction(self.engine) as conn:
            return [dict(r) for r in conn.execute(query).mappings().all()]

    # -- monitors ------------------------------------------------------------------------------

    def save_monitor(self, row: dict[str, Any]) -> None:
        """Create or replace a monitor definition (``created_at`` of the first save is kept)."""

        def fn(conn):
            found = conn.execute(
                select(t.monitors.c.created_at).where(t.monitors.c.name == row["name"])
            ).scalar()
            values = {**row, "created_at": found if found is not None else row["updated_at"]}
            _upsert(conn, t.monitors, [values], ["name"])

        self.meta._write(fn)

    def monitor(self, name: str) -> dict | None:
        rows = self._read(select(t.monitors).where(t.monitors.c.name == name))
        return rows[0] if rows else None

    def monitors(self) -> list[dict]:
        return self._read(select(t.monitors).order_by(t.monitors.c.name))

    def add_run(self, row: dict[str, Any], alert: dict[str, Any] | None) -> tuple[int, int | None]:
        """Record a monitor run and, in the same transaction, its alert."""

        def fn(conn):
            run_id = int(conn.execute(insert(t.monitor_runs).values(**row)).inserted_primary_key[0])
            alert_id = None
            if alert is not None:
                values = {**alert, "monitor_run_id": run_id, "created_at": row["ran_at"]}
                result = conn.execute(insert(t.alerts).values(**values))
                alert_id = int(result.inserted_primary_key[0])
            return run_id, alert_id

        return self.meta._write(fn)

    def runs(self, monitor: str) -> list[dict]:
        m = t.monitor_runs.c
        return self._read(select(t.monitor_runs).where(m.monitor == monitor).order_by(m.id))

    # -- alerts --------------------------------------------------------------------------------

    def update_alert(self, alert_id: int, **values: Any) -> None:
        self.meta._write(
            lambda conn: conn.execute(
                update(t.alerts).where(t.alerts.c.id == alert_id).values(**values)
            )
        )

    def alert(self, alert_id: int) -> dict | None:
        rows = self._read(select(t.alerts).where(t.alerts.c.id == alert_id))
        return rows[0] if rows else None

    def alerts(
        self, monitor: str | None = None, model_name: str | None = None, status: str | None = None
    ) -> list[dict]:
        a = t.alerts.c
        query = select(t.alerts).order_by(a.id)
        if monitor is not None:
            query = query.where(a.monitor == monitor)
        if model_name is not None:
            query = query.where(a.model_name == model_name)
        if status is not None:
            query = query.where(a.retrain_status == status)
        return self._read(query)
