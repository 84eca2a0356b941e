"""Reads and writes of the prediction log's files and the models' reference data (one short
transaction each); the files themselves are written by :mod:`nbmlops.predictions`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, or_, select

from . import _schema as t
from ._engine import read_transaction
from .metadata import _upsert


class PredictionRecords:
    """The prediction-log and reference tables of one metadata store."""

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
