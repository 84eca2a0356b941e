"""Reads and writes of the monitoring loop: prediction log files, model references, monitors,
monitor runs and alerts (one short transaction each)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, or_, select, update

from . import _schema as t
from ._engine import read_transaction
from .metadata import _upsert


class LoopRecords:
    """The schema-5 tables of one metadata store."""

    def __init__(self, meta) -> None:
        self.meta = meta
        self.engine = meta.engine

    def _read(self, query) -> list[dict]:
        with read_transaction(self.engine) as conn:
            return [dict(r) for r in conn.execute(query).mappings().all()]

    # -- prediction log ------------------------------------------------------------------------

    def add_write(self, row: dict[str, Any]) -> int:
        def fn(conn):
            return int(
                conn.execute(insert(t.prediction_writes).values(**row)).inserted_primary_key[0]
            )

        return self.meta._write(fn)

    def writes(
        self,
        kind: str,
        model_name: str | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> list[dict]:
        """Files of ``kind`` whose rows may fall in ``[start, end]``, oldest first. For labels,
        ``model_name`` also matches labels logged without a model (``""``)."""
        w = t.prediction_writes.c
        query = select(t.prediction_writes).where(w.kind == kind).order_by(w.write_id)
        if model_name is not None:
            if kind == "labels":
                query = query.where(or_(w.model_name == model_name, w.model_name == ""))
            else:
                query = query.where(w.model_name == model_name)
        if start is not None:
            query = query.where(w.max_time >= start)
        if end is not None:
            query = query.where(w.min_time <= end)
        return self._read(query)

    def drop_writes_before(self, cutoff: float) -> list[str]:
        """Forget every file whose newest row is older than ``cutoff``; return their paths."""
        w = t.prediction_writes.c

        def fn(conn):
            paths = list(conn.execute(select(w.path).where(w.max_time < cutoff)).scalars())
            conn.execute(delete(t.prediction_writes).where(w.max_time < cutoff))
            return paths

        return self.meta._write(fn)

    def logged_models(self) -> list[dict]:
        w = t.prediction_writes.c
        return self._read(
            select(w.model_name, w.model_version)
            .where(w.kind == "predictions")
            .distinct()
            .order_by(w.model_name, w.model_version)
        )

    # -- references ----------------------------------------------------------------------------

    def set_reference(self, row: dict[str, Any]) -> None:
        self.meta._write(lambda conn: _upsert(conn, t.model_references, [row], ["name", "version"]))

    def reference(self, name: str, version: int) -> dict | None:
        r = t.model_references.c
        rows = self._read(
            select(t.model_references).where(r.name == name).where(r.version == version)
        )
        return rows[0] if rows else None

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
