"""Reads and writes of the model servers seen (one short transaction each).

Each server writes only its own row (keyed by its id), so a heartbeat is an update, or an
insert the first time; readers decide from ``last_seen`` whether a server is still there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from . import _schema as t
from ._engine import read_transaction

# A row not refreshed for this long is deleted by the next heartbeat of any server: a server
# that died without stopping cleanly shows as gone for a day, then disappears.
FORGET_AFTER_S = 86400.0


class ServerRecords:
    """The ``servers`` table of one metadata store."""

    def __init__(self, meta) -> None:
        self.meta = meta
        self.engine = meta.engine

    def beat(self, row: dict[str, Any]) -> None:
        """Record that the server ``row["id"]`` is alive and serves ``row["models"]`` now."""
        s = t.servers.c

        def fn(conn):
            changed = conn.execute(
                update(t.servers)
                .where(s.id == row["id"])
                .values(**{k: v for k, v in row.items() if k != "id"})
            ).rowcount
            if not changed:
                conn.execute(insert(t.servers).values(**row))
                # A new server is rare: the time to forget the long dead.
                conn.execute(
                    delete(t.servers).where(s.last_seen < row["last_seen"] - FORGET_AFTER_S)
                )

        self.meta._write(fn)

    def remove(self, server_id: str) -> None:
        """Forget a server that stopped cleanly."""
        self.meta._write(
            lambda conn: conn.execute(delete(t.servers).where(t.servers.c.id == server_id))
        )

    def list(self) -> list[dict]:
        """Every server row, oldest first."""
        s = t.servers.c
        with read_transaction(self.engine) as conn:
            query = select(t.servers).order_by(s.started_at, s.id)
            return [dict(r) for r in conn.execute(query).mappings().all()]
