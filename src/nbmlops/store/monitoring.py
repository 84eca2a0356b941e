"""Reads and writes of saved drift reports and expectation suites (one transaction each)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from ..errors import MonitoringError
from . import _schema as t
from ._engine import read_transaction


class MonitoringRecords:
    """The monitoring tables of one metadata store."""

    def __init__(self, meta) -> None:
        self.meta = meta
        self.engine = meta.engine

    def add_report(self, row: dict[str, Any]) -> None:
        self.meta._write(lambda conn: conn.execute(insert(t.drift_reports).values(**row)))

    def reports(self, model_name: str | None = None) -> list[dict]:
        query = select(t.drift_reports).order_by(t.drift_reports.c.created_at.desc())
        if model_name is not None:
            query = query.where(t.drift_reports.c.model_name == model_name)
        with read_transaction(self.engine) as conn:
            return [dict(r) for r in conn.execute(query).mappings().all()]

    def report(self, report_id: str) -> dict:
        """The row of a report; a unique prefix of its id is enough."""
        if not isinstance(report_id, str) or not report_id or len(report_id) > t.RUN_ID_LEN:
            raise MonitoringError(f"no drift report with id {report_id!r}")
        prefix = report_id.lower().replace("%", "").replace("_", "")
        with read_transaction(self.engine) as conn:
            rows = (
                conn.execute(
                    select(t.drift_reports)
                    .where(t.drift_reports.c.report_id.like(prefix + "%"))
                    .limit(2)
                )
                .mappings()
                .all()
            )
        if not rows:
            raise MonitoringError(
                f"no drift report with id {report_id!r}; list them with nbmlops.drift_reports()"
            )
        if len(rows) > 1:
            raise MonitoringError(f"drift report id {report_id!r} is ambiguous; give more of it")
        return dict(rows[0])

    def add_suite(self, row: dict[str, Any]) -> int:
        def fn(conn):
            result = conn.execute(insert(t.expectation_suites).values(**row))
            return int(result.inserted_primary_key[0])

        return self.meta._write(fn)

    def suite(self, name: str) -> dict:
        """The newest saved suite called ``name``."""
        with read_transaction(self.engine) as conn:
            row = (
                conn.execute(
                    select(t.expectation_suites)
                    .where(t.expectation_suites.c.name == name)
                    .order_by(t.expectation_suites.c.id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
            if row is None:
                names = conn.execute(select(t.expectation_suites.c.name).distinct()).scalars()
                known = ", ".join(sorted(names)) or "none yet"
                raise MonitoringError(
                    f"no saved expectations named {name!r} (saved: {known}); save them with "
                    "expectations.save(name)"
                )
        return dict(row)

    def suites(self) -> list[dict]:
        with read_transaction(self.engine) as conn:
            return [
                dict(r)
                for r in conn.execute(
                    select(
                        t.expectation_suites.c.id,
                        t.expectation_suites.c.name,
                        t.expectation_suites.c.created_at,
                        t.expectation_suites.c.run_id,
                        t.expectation_suites.c.model_name,
                        t.expectation_suites.c.model_version,
                    ).order_by(t.expectation_suites.c.id)
                )
                .mappings()
                .all()
            ]
