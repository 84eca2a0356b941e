"""Engines for the metadata store, with the SQLite settings that make concurrent kernels safe.

SQLite: WAL journal (readers never block the writer), ``busy_timeout`` (a writer waits for
the lock instead of failing), ``synchronous=NORMAL`` (durable at checkpoints, fast commits) and
``BEGIN IMMEDIATE`` for write transactions: a deferred transaction that upgrades from read to
write can fail with "database is locked" without waiting, whatever the busy timeout.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from ..errors import StoreError

BUSY_TIMEOUT_MS = 60_000
_WRITE = "nbmlops_write"
T = TypeVar("T")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; for a SQLite file, create its folder first."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"cannot parse store URL {url!r}: {exc}. Use e.g. sqlite:////abs/path/nbmlops.db "
            "or postgresql+psycopg://user:pass@host/db"
        ) from None
    if parsed.drivername == "postgresql":
        # psycopg 3 is the driver we install with the `postgres` extra.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(
            f"nbmlops stores its metadata in SQLite or PostgreSQL, not {parsed.get_backend_name()} "
            f"({url!r}); use e.g. sqlite:////abs/path/nbmlops.db or postgresql://user@host/db"
        )
    try:
        engine = create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=4)
    except ImportError as exc:
        raise StoreError(
            f"the driver for {parsed.drivername} is not installed ({exc}); "
            "install it with: pip install 'nbmlops[postgres]'"
        ) from None
    return engine


def _sqlite_engine(parsed) -> Engine:
    if not parsed.database or parsed.database == ":memory:":
        raise StoreError(
            "an in-memory SQLite store would lose every run when the process ends; "
            "give a file path, e.g. sqlite:////tmp/nbmlops.db"
        )
    Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=2,
        max_overflow=4,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let us issue BEGIN ourselves (the sqlite3 module's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection):
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _is_lock_error(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return any(
        s in text
        for s in (
            "database is locked",
            "database is busy",
            "deadlock detected",
            "could not serialize access",
        )
    )


def run_with_retry(fn: Callable[[], T], *, deadline_s: float = 120.0) -> T:
    """Run ``fn`` again when the database reports a lock conflict, until ``deadline_s``.

    busy_timeout already waits inside SQLite; this covers the rare cases it cannot (a WAL
    checkpoint racing a writer, PostgreSQL deadlocks), so no writer ever sees "locked".
    """
    start = time.monotonic()
    delay = 0.005
    while True:
        try:
            return fn()
        except OperationalError as exc:
            if not _is_lock_error(exc) or time.monotonic() - start > deadline_s:
                raise
        except DBAPIError as exc:
            if not _is_lock_error(exc) or time.monotonic() - start > deadline_s:
                raise
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.5)


@contextmanager
def write_transaction(engine: Engine):
    """A short write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
    with engine.connect().execution_options(**{_WRITE: True}) as conn, conn.begin():
        yield conn


@contextmanager
def read_transaction(engine: Engine):
    """A read-only snapshot (never takes the SQLite write lock)."""
    with engine.connect() as conn, conn.begin():
        yield conn


def reset_after_fork(engine: Engine) -> None:
    """Forget pooled connections inherited from the parent process (never share them)."""
    engine.dispose(close=False)


def describe(engine: Engine) -> str:
    """The URL with any password hidden, for messages and ``nbmlops doctor``."""
    return engine.url.render_as_string(hide_password=True)
