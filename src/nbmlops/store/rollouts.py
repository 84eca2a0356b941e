"""Reads and writes of rollouts and their events (one short transaction each).

A name has at most one rollout that is running or paused: :meth:`RolloutRecords.create`
checks it inside the transaction that inserts. Every change of state is a conditional update
on the step and status the caller saw (:meth:`RolloutRecords.move`), so servers evaluating the
same rollout never apply one step twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update

from ..errors import ServingError
from . import _schema as t
from . import audit
from ._engine import read_transaction

ACTIVE = ("running", "paused")


def _audit(conn, rollout: dict[str, Any], event: dict[str, Any]) -> None:
    """Append a rollout's change of state to the audit log, in the transaction that makes it
    (subject: the candidate version, as lineage reads it)."""
    audit.append(
        conn,
        f"rollout.{event['kind']}",
        f"models:/{rollout['name']}/{rollout['candidate']}",
        {
            "rollout": rollout["id"],
            "name": rollout["name"],
            "mode": rollout["mode"],
            "champion": rollout["champion"],
            "share": rollout["share"],
            "status": rollout["status"],
            "detail": event.get("detail"),
        },
        rollout.get("user_name"),
    )


class RolloutRecords:
    """The rollout tables of one metadata store."""

    def __init__(self, meta) -> None:
        self.meta = meta
        self.engine = meta.engine

    def _read(self, query) -> list[dict]:
        with read_transaction(self.engine) as conn:
            return [dict(r) for r in conn.execute(query).mappings().all()]

    def create(self, row: dict[str, Any], event: dict[str, Any]) -> int:
        """Insert a rollout (refused while another one of its name is active); return its id."""
        r = t.rollouts.c

        def fn(conn):
            if self.meta.engine.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(727275)))
            found = conn.execute(
                select(r.id).where(r.name == row["name"], r.status.in_(ACTIVE))
            ).scalar()
            if found is not None:
                raise ServingError(
                    f"rollout {found} of {row['name']!r} is still active: finish it with "
                    f"nbmlops rollout abort {row['name']} (or advance it) before starting another"
                )
            rollout_id = int(conn.execute(insert(t.rollouts).values(**row)).inserted_primary_key[0])
            conn.execute(insert(t.rollout_events).values(**event, rollout_id=rollout_id))
            _audit(conn, {**row, "id": rollout_id}, event)
            return rollout_id

        return self.meta._write(fn)

    def get(self, rollout_id: int) -> dict | None:
        rows = self._read(select(t.rollouts).where(t.rollouts.c.id == rollout_id))
        return rows[0] if rows else None

    def active(self, names: list[str] | None = None) -> list[dict]:
        """Running and paused rollouts (of ``names``)."""
        r = t.rollouts.c
        query = select(t.rollouts).where(r.status.in_(ACTIVE)).order_by(r.id)
        if names is not None:
            query = query.where(r.name.in_(names))
        return self._read(query)

    def latest(self, name: str) -> dict | None:
        r = t.rollouts.c
        rows = self._read(select(t.rollouts).where(r.name == name).order_by(r.id.desc()).limit(1))
        return rows[0] if rows else None

    def list(self, name: str | None = None) -> list[dict]:
        r = t.rollouts.c
        query = select(t.rollouts).order_by(r.id)
        if name is not None:
            query = query.where(r.name == name)
        return self._read(query)

    def move(
        self,
        rollout_id: int,
        expected_step: int,
        expected_status: str,
        values: dict[str, Any],
        event: dict[str, Any],
    ) -> bool:
        """Apply ``values`` if the rollout is still at ``expected_step`` with
        ``expected_status``; record ``event`` with it. False when someone else moved it first."""
        r = t.rollouts.c

        def fn(conn):
            changed = conn.execute(
                update(t.rollouts)
                .where(r.id == rollout_id, r.step == expected_step, r.status == expected_status)
                .values(**values)
            ).rowcount
            if changed:
                conn.execute(insert(t.rollout_events).values(**event, rollout_id=rollout_id))
                rollout = (
                    conn.execute(select(t.rollouts).where(r.id == rollout_id)).mappings().one()
                )
                _audit(conn, dict(rollout), event)
            return bool(changed)

        return self.meta._write(fn)

    def set_alert(self, rollout_id: int, alert_id: int) -> None:
        self.meta._write(
            lambda conn: conn.execute(
                update(t.rollouts).where(t.rollouts.c.id == rollout_id).values(alert_id=alert_id)
            )
        )

    def add_events(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.meta._write(lambda conn: conn.execute(insert(t.rollout_events), rows))

    def events(self, rollout_id: int) -> list[dict]:
        e = t.rollout_events.c
        return self._read(select(t.rollout_events).where(e.rollout_id == rollout_id).order_by(e.id))

    def error_counts(self, rollout_id: int, since: float) -> dict[str, int]:
        """Failed requests per arm recorded by servers since ``since``."""
        e = t.rollout_events.c
        rows = self._read(
            select(e.arm, func.sum(e.count).label("n"))
            .where(e.rollout_id == rollout_id, e.kind == "errors", e.at >= since)
            .group_by(e.arm)
        )
        return {row["arm"]: int(row["n"] or 0) for row in rows}
