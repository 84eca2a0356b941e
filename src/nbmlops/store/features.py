"""Reads and writes of feature views, offline writes and materializations (one transaction each).

This module speaks rows; definitions, validation and the joins live in :mod:`nbmlops.features`.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update

from ..errors import FeatureViewNotFound
from . import _schema as t
from ._engine import read_transaction

# Serializes concurrent ``apply`` calls on PostgreSQL (SQLite's BEGIN IMMEDIATE already does).
_APPLY_LOCK = 727275


class FeatureRecords:
    """The feature-store tables of one metadata store."""

    def __init__(self, meta) -> None:
        self.meta = meta
        self.engine = meta.engine

    # -- views --------------------------------------------------------------------------------

    def apply(self, rows: list[dict[str, Any]]) -> list[tuple[int, bool]]:
        """Register view versions; return ``(version, created)`` per row, in order.

        A row whose ``(name, digest)`` exists keeps its version number (its descriptive
        fields are updated); a new digest gets the next version of its name.
        """

        def fn(conn):
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SELECT pg_advisory_xact_lock({_APPLY_LOCK})"))
            out = []
            now = time.time()
            for row in rows:
                fv = t.feature_views
                found = conn.execute(
                    select(fv.c.version).where(
                        fv.c.name == row["name"], fv.c.digest == row["digest"]
                    )
                ).scalar()
                descriptive = {
                    k: row[k] for k in ("definition", "description", "owner", "tags") if k in row
                }
                if found is not None:
                    conn.execute(
                        update(fv)
                        .where(fv.c.name == row["name"], fv.c.version == found)
                        .values(**descriptive, updated_at=now)
                    )
                    out.append((int(found), False))
                    continue
                latest = conn.execute(
                    select(func.max(fv.c.version)).where(fv.c.name == row["name"])
                ).scalar()
                version = int(latest or 0) + 1
                conn.execute(
                    insert(fv).values(**row, version=version, created_at=now, updated_at=now)
                )
                out.append((version, True))
            return out

        return self.meta._write(fn)

    def view(self, name: str, version: int | None = None) -> dict:
        fv = t.feature_views
        query = select(fv).where(fv.c.name == name)
        if version is None:
            query = query.order_by(fv.c.version.desc()).limit(1)
        else:
            query = query.where(fv.c.version == version)
        with read_transaction(self.engine) as conn:
            row = conn.execute(query).mappings().first()
            if row is None:
                known = conn.execute(
                    select(fv.c.version).where(fv.c.name == name).order_by(fv.c.version)
                ).scalars()
                versions = [int(v) for v in known]
        if row is None:
            if versions:
                raise FeatureViewNotFound(
                    name,
                    f"feature view {name!r} has no version {version} (versions: "
                    f"{', '.join(map(str, versions))})",
                )
            raise FeatureViewNotFound(name)
        return dict(row)

    def views(self, name: str | None = None, all_versions: bool = False) -> list[dict]:
        """View rows ordered by name then version; only the latest version of each by default."""
        fv = t.feature_views
        query = select(fv).order_by(fv.c.name, fv.c.version)
        if name is not None:
            query = query.where(fv.c.name == name)
        if not all_versions:
            latest = (
                select(fv.c.name, func.max(fv.c.version).label("v")).group_by(fv.c.name).subquery()
            )
            query = query.join(latest, (latest.c.name == fv.c.name) & (latest.c.v == fv.c.version))
        with read_transaction(self.engine) as conn:
            return [dict(r) for r in conn.execute(query).mappings().all()]

    # -- offline writes -----------------------------------------------------------------------

    def begin_write(self, name: str, version: int, run_id: str | None) -> int:
        def fn(conn):
            result = conn.execute(
                insert(t.feature_writes).values(
                    name=name,
                    version=version,
                    status="pending",
                    run_id=run_id,
                    created_at=time.time(),
                )
            )
            return int(result.inserted_primary_key[0])

        return self.meta._write(fn)

    def commit_write(self, write_id: int, **values: Any) -> None:
        fw = t.feature_writes
        self.meta._write(
            lambda conn: conn.execute(
                update(fw).where(fw.c.write_id == write_id).values(status="committed", **values)
            )
        )

    def abort_write(self, write_id: int) -> None:
        fw = t.feature_writes
        self.meta._write(lambda conn: conn.execute(delete(fw).where(fw.c.write_id == write_id)))

    def writes(self, name: str, version: int | None = None, committed: bool = True) -> list[dict]:
        fw = t.feature_writes
        query = select(fw).where(fw.c.name == name).order_by(fw.c.write_id)
        if version is not None:
            query = query.where(fw.c.version == version)
        if committed:
            query = query.where(fw.c.status == "committed")
        with read_transaction(self.engine) as conn:
            return [dict(r) for r in conn.execute(query).mappings().all()]

    # -- materializations ---------------------------------------------------------------------

    def add_materialization(self, row: dict[str, Any]) -> None:
        self.meta._write(
            lambda conn: conn.execute(
                insert(t.feature_materializations).values(**row, created_at=time.time())
            )
        )

    def materializations(
        self, name: str | None = None, online_store: str | None = None
    ) -> list[dict]:
        fm = t.feature_materializations
        query = select(fm).order_by(fm.c.id)
        if name is not None:
            query = query.where(fm.c.name == name)
        if online_store is not None:
            query = query.where(fm.c.online_store == online_store)
        with read_transaction(self.engine) as conn:
            return [dict(r) for r in conn.execute(query).mappings().all()]
