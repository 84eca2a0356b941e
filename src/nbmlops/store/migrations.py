"""Schema versions of the metadata store and the path from each to the next.

The store records every applied version in ``nbmlops_schema_version``. Opening a store reads
that version first, without any lock; only a store that needs migrating takes the write lock
(``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), checks the version again inside
it and applies the missing migrations in that one transaction. So opening a current store never
waits behind a writer, and a store written by a newer nbmlops is refused, not corrupted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection, Engine

from .._version import __version__
from ..errors import SchemaVersionError
from . import _schema
from ._engine import describe, read_transaction, run_with_retry, write_transaction
from .run_keys import rebuild_run_keys


def _v1_initial(conn: Connection) -> None:
    _schema.metadata.create_all(conn, tables=list(_schema.V1_TABLES), checkfirst=True)


def _v2_registry(conn: Connection) -> None:
    _schema.production_index()  # created with its table
    _schema.metadata.create_all(conn, tables=list(_schema.V2_TABLES), checkfirst=True)


def _v3_monitoring(conn: Connection) -> None:
    _schema.metadata.create_all(conn, tables=list(_schema.V3_TABLES), checkfirst=True)


def _v4_features(conn: Connection) -> None:
    _schema.metadata.create_all(conn, tables=list(_schema.V4_TABLES), checkfirst=True)


def _v5_loop(conn: Connection) -> None:
    _schema.metadata.create_all(conn, tables=list(_schema.V5_TABLES), checkfirst=True)


def _v6_transition_gates(conn: Connection) -> None:
    # Stores created at schema 2+ by this nbmlops already have the column (create_all uses
    # today's table definition); older ones gain it here.
    columns = {c["name"] for c in inspect(conn).get_columns(_schema.model_transitions.name)}
    if "gates" not in columns:
        conn.execute(text("ALTER TABLE model_transitions ADD COLUMN gates TEXT"))


def _v7_rollouts(conn: Connection) -> None:
    _schema.metadata.create_all(conn, tables=list(_schema.V7_TABLES), checkfirst=True)


def _v8_governance(conn: Connection) -> None:
    _schema.metadata.create_all(conn, tables=list(_schema.V8_TABLES), checkfirst=True)
    # The chain starts at the genesis hash (64 zeros); see nbmlops.store.audit.
    if conn.execute(select(_schema.audit_head.c.id)).first() is None:
        conn.execute(_schema.audit_head.insert().values(id=1, seq=0, hash="0" * 64))


def _v9_run_keys(conn: Connection) -> None:
    _schema.metadata.create_all(conn, tables=list(_schema.V9_TABLES), checkfirst=True)
    rebuild_run_keys(conn)


def _v10_query_indexes(conn: Connection) -> None:
    # The indexes run queries compiled to SQL use (nbmlops.tracking._sql): the newest-first
    # page, pages sorted or filtered by a metric's latest value, and the first character of
    # param values (lists/dicts and numbers are found by it; a whole value can be too long for
    # a PostgreSQL index entry). Text orders compare by code point: collation "C" there.
    collate = ' COLLATE "C"' if conn.dialect.name == "postgresql" else ""
    for statement in (
        f"CREATE INDEX IF NOT EXISTS ix_runs_start_run ON runs (start_time DESC, run_id{collate})",
        "CREATE INDEX IF NOT EXISTS ix_latest_metrics_key_value ON latest_metrics (key, value)",
        "CREATE INDEX IF NOT EXISTS ix_params_key_head ON params (key, substr(value, 1, 1))",
    ):
        conn.execute(text(statement))


def _v11_servers(conn: Connection) -> None:
    _schema.metadata.create_all(conn, tables=list(_schema.V11_TABLES), checkfirst=True)


# Append new steps here; never edit a released one. Each runs inside the upgrade transaction.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "experiments, runs, params, metrics, tags, artifacts, data_io, environments", _v1_initial),
    (2, "model registry: models, versions, aliases, transitions, metrics", _v2_registry),
    (3, "monitoring: saved drift reports and expectation suites", _v3_monitoring),
    (4, "feature store: feature views, offline writes, materializations", _v4_features),
    (5, "monitoring loop: prediction log writes, model references, monitors, alerts", _v5_loop),
    (6, "model transitions record the gates a promotion passed", _v6_transition_gates),
    (7, "serving: rollouts of candidate versions and their events", _v7_rollouts),
    (8, "governance: audit log, policies, promotion requests", _v8_governance),
    (9, "run_keys: the param, metric and tag keys of each experiment, kept on write", _v9_run_keys),
    (10, "indexes for run queries in SQL: newest first, metrics, param kinds", _v10_query_indexes),
    (11, "serving: the model servers seen, with their heartbeat", _v11_servers),
]
LATEST = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table(_schema.schema_version.name):
        return 0
    found = conn.execute(select(_schema.schema_version.c.version)).scalars().all()
    return max(found, default=0)


def _check_not_newer(engine: Engine, version: int) -> None:
    if version > LATEST:
        raise SchemaVersionError(
            f"the store at {describe(engine)} has schema version {version}, newer than this "
            f"nbmlops ({__version__}, schema {LATEST}); upgrade nbmlops: pip install -U nbmlops"
        )


def upgrade(engine: Engine) -> int:
    """Bring the store to :data:`LATEST`; return the version it was at before.

    A current store is only read: the write lock is taken when a migration is due.
    """
    with read_transaction(engine) as conn:
        seen = current_version(conn)
    _check_not_newer(engine, seen)
    if seen == LATEST:
        return seen

    def attempt() -> int:
        with write_transaction(engine) as conn:
            if engine.dialect.name == "postgresql":
                # Two processes creating tables at once would collide in the catalog.
                conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
            # Another process may have migrated while this one waited for the lock.
            before = current_version(conn)
            _check_not_newer(engine, before)
            for version, _description, step in MIGRATIONS:
                if version > before:
                    step(conn)
                    conn.execute(
                        _schema.schema_version.insert().values(
                            version=version, applied_at=time.time(), nbmlops_version=__version__
                        )
                    )
            return before

    return run_with_retry(attempt, engine=engine)
