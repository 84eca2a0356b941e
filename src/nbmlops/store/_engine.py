"""Engines for the metadata store, with the SQLite settings that make concurrent kernels safe.

SQLite: WAL journal (readers never block the writer), ``busy_timeout`` (a writer waits for
the lock instead of failing), ``synchronous=NORMAL`` (durable at checkpoints, fast commits) and
``BEGIN IMMEDIATE`` for write transactions: a deferred transaction that upgrades from read to
write can fail with "database is locked" without waiting, whatever the busy timeout.

PostgreSQL: a connect timeout and a statement timeout, so a server that accepts connections
but never answers fails with a ``StoreError`` instead of hanging.

Every database error leaving a transaction is a :class:`~nbmlops.errors.StoreError`
(see :mod:`.faults`).
"""

from __future__ import annotations

import math
import random
import time
import weakref
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError

from ..errors import NbmlopsError, StoreError
from .faults import database_error, is_database_error

BUSY_TIMEOUT_MS = 60_000
CONNECT_TIMEOUT_S = 10.0
STATEMENT_TIMEOUT_S = 60.0
_WRITE = "nbmlops_write"
T = TypeVar("T")
# What each engine's timeouts are, for error messages ("connect timeout 10 s", …).
_timeouts: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
# How long a write may keep retrying lock conflicts (SQLite: its busy timeout).
_lock_deadline: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()
_busy_ms: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(
    url: str,
    *,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    statement_timeout_s: float = STATEMENT_TIMEOUT_S,
    busy_timeout_s: float = BUSY_TIMEOUT_MS / 1000,
) -> Engine:
    """Create an engine for ``url``; for a SQLite file, create its folder first.

    Timeouts (seconds): ``busy_timeout_s`` is how long a SQLite writer waits for another's
    lock; ``connect_timeout_s`` and ``statement_timeout_s`` bound a PostgreSQL connection
    attempt and each statement. Options already in the URL's query win.
    """
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
        engine = _sqlite_engine(parsed, busy_timeout_s)
        _timeouts[engine] = f"; busy timeout {busy_timeout_s:g} s, NBMLOPS_BUSY_TIMEOUT_S"
        _lock_deadline[engine] = busy_timeout_s
        _busy_ms[engine] = int(busy_timeout_s * 1000)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(
            f"nbmlops stores its metadata in SQLite or PostgreSQL, not {parsed.get_backend_name()} "
            f"({url!r}); use e.g. sqlite:////abs/path/nbmlops.db or postgresql://user@host/db"
        )
    connect_args: dict = {}
    if "connect_timeout" not in parsed.query:
        # libpq counts whole seconds and treats anything below 2 as 2.
        connect_args["connect_timeout"] = max(2, math.ceil(connect_timeout_s))
    if "options" not in parsed.query:
        connect_args["options"] = f"-c statement_timeout={int(statement_timeout_s * 1000)}"
    try:
        engine = create_engine(
            parsed, pool_pre_ping=True, pool_size=2, max_overflow=4, connect_args=connect_args
        )
    except ImportError as exc:
        raise StoreError(
            f"the driver for {parsed.drivername} is not installed ({exc}); "
            "install it with: pip install 'nbmlops[postgres]'"
        ) from None
    _timeouts[engine] = (
        f"; connect timeout {connect_args.get('connect_timeout', '?')} s, "
        f"NBMLOPS_CONNECT_TIMEOUT_S; statement timeout {statement_timeout_s:g} s, "
        "NBMLOPS_STATEMENT_TIMEOUT_S"
    )
    return engine


def _sqlite_engine(parsed, busy_timeout_s: float) -> Engine:
    if not parsed.database or parsed.database == ":memory:":
        raise StoreError(
            "an in-memory SQLite store would lose every run when the process ends; "
            "give a file path, e.g. sqlite:////tmp/nbmlops.db"
        )
    try:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from .faults import disk_error

        raise disk_error(exc, str(Path(parsed.database).parent)) from None
    busy_ms = int(busy_timeout_s * 1000)
    engine = create_engine(
        parsed,
        connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
        pool_size=2,
        max_overflow=4,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let us issue BEGIN ourselves (the sqlite3 module's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
        _use_wal(cur, busy_timeout_s)
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection):
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _use_wal(cur, busy_timeout_s: float) -> None:
    """Put the database in WAL mode (it stays so, in the file), waiting out other openers.

    Switching a new file to WAL needs it to itself, and SQLite answers "database is locked"
    at once when another connection has it open, without its busy handler: several threads
    or processes opening a new store together failed that way (1 open in 10 with 6 threads).
    A file already in WAL mode needs no switch, so the common open only reads the mode.
    """
    import sqlite3

    deadline = time.monotonic() + busy_timeout_s
    delay = 0.002
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            locked = "locked" in text or "busy" in text
            if not locked or time.monotonic() > deadline:
                raise
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.1)


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


def store_error(engine: Engine, exc: BaseException) -> StoreError:
    """``exc`` (a database error of ``engine``) as the ``StoreError`` a user should see."""
    return database_error(exc, repr(describe(engine)), _timeouts.get(engine, ""))


def run_with_retry(
    fn: Callable[[], T], *, deadline_s: float = 120.0, engine: Engine | None = None
) -> T:
    """Run ``fn`` again when the database reports a lock conflict, until ``deadline_s``.

    busy_timeout already waits inside SQLite; this covers the rare cases it cannot (a WAL
    checkpoint racing a writer, PostgreSQL deadlocks), so no writer ever sees "locked".
    With ``engine``, any other database error (and the last lock error) is raised as the
    matching :class:`~nbmlops.errors.StoreError`.
    """
    if engine is not None:
        deadline_s = min(deadline_s, _lock_deadline.get(engine, deadline_s))
    start = time.monotonic()
    delay = 0.005
    while True:
        try:
            return fn()
        except DBAPIError as exc:
            if not _is_lock_error(exc) or time.monotonic() - start > deadline_s:
                if engine is None:
                    raise
                raise store_error(engine, exc) from exc
        except NbmlopsError:
            raise
        except Exception as exc:
            if engine is None or not is_database_error(exc):
                raise
            raise store_error(engine, exc) from exc
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.5)


@contextmanager
def write_transaction(engine: Engine):
    """A short write transaction (``BEGIN IMMEDIATE`` on SQLite); database errors are raised
    raw, for :func:`run_with_retry` to retry or translate."""
    with engine.connect().execution_options(**{_WRITE: True}) as conn, conn.begin():
        yield conn


def try_write(engine: Engine, fn: Callable[[Connection], T], lock_wait_s: float) -> T | None:
    """``fn`` in a write transaction that waits at most ``lock_wait_s`` for the write lock
    (SQLite) or a row lock (PostgreSQL); None, with nothing written, if it was not free.

    For writes that may wait for a later chance, so a reader never queues behind a writer.
    """
    wait_ms = max(1, int(lock_wait_s * 1000))
    sqlite = is_sqlite(engine)
    try:
        with engine.connect().execution_options(**{_WRITE: True}) as conn:
            raw = conn.connection.driver_connection if sqlite else None
            if raw is not None:  # before BEGIN IMMEDIATE, which is where SQLite waits
                raw.execute(f"PRAGMA busy_timeout = {wait_ms}")
            try:
                with conn.begin():
                    if not sqlite:
                        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {wait_ms}")
                    return fn(conn)
            finally:
                if raw is not None:
                    raw.execute(f"PRAGMA busy_timeout = {_busy_ms.get(engine, BUSY_TIMEOUT_MS)}")
    except DBAPIError as exc:
        orig = getattr(exc, "orig", None)
        if _is_lock_error(exc) or getattr(orig, "sqlstate", None) == "55P03":
            return None
        raise store_error(engine, exc) from exc
    except NbmlopsError:
        raise
    except Exception as exc:
        if not is_database_error(exc):
            raise
        raise store_error(engine, exc) from exc


@contextmanager
def read_transaction(engine: Engine):
    """A read-only snapshot (never takes the SQLite write lock); a database error leaves it
    as a :class:`~nbmlops.errors.StoreError`."""
    try:
        with engine.connect() as conn, conn.begin():
            yield conn
    except NbmlopsError:
        raise
    except Exception as exc:
        if not is_database_error(exc):
            raise
        raise store_error(engine, exc) from exc


def reset_after_fork(engine: Engine) -> None:
    """Forget pooled connections inherited from the parent process (never share them)."""
    engine.dispose(close=False)


def describe(engine: Engine) -> str:
    """The URL with any password hidden, for messages and ``nbmlops doctor``."""
    return engine.url.render_as_string(hide_password=True)
