"""The embedded online store: one SQLite file, one ``WITHOUT ROWID`` table per view version.

Lookups go through the ``sqlite3`` module directly (one connection per thread, statements
cached by SQLite) so a single-entity lookup costs a few microseconds. Writes run in one
``BEGIN IMMEDIATE`` transaction: an upsert that keeps the stored row when it is newer (event
time, created time, write order), and, when a new version of a view arrives, the switch of the
view's table and the drop of the old one. A table's layout never changes (its name carries the
version), so a reader holding an old layout either reads it or finds the table gone.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pyarrow as pa

from ..errors import OnlineStoreError
from .offline import SEQ
from .online import CREATED, TS, OnlineStore, OnlineView

_META = "nbmlops_online_views"
_MIN = -(2**63)
# bound parameters per statement (SQLite's limit is 32,766 since 3.32, 999 before)
_BATCH = 2000 if sqlite3.sqlite_version_info >= (3, 32) else 999


def _table_name(view: OnlineView) -> str:
    return f"fv_{view.name}_v{view.version}"


class SQLiteOnlineStore(OnlineStore):
    """Online values in a SQLite file (``sqlite:////abs/path/online.db``)."""

    def __init__(self, url: str):
        self.url = url
        path = url.split("sqlite:///", 1)[1] if url.startswith("sqlite:///") else ""
        if not path or path == ":memory:":
            raise OnlineStoreError(
                f"online store URL {url!r} needs a file path, e.g. sqlite:////tmp/online.db"
            )
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._pid = os.getpid()
        self._view_cache: dict[str, OnlineView] = {}
        # view name -> (view, SELECT one, SELECT many prefix)
        self._sql: dict[str, tuple[OnlineView, str, str]] = {}
        conn = self._conn()
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {_META} (name TEXT PRIMARY KEY, version INTEGER NOT "
            "NULL, tbl TEXT NOT NULL, doc TEXT NOT NULL, updated_at REAL NOT NULL)"
        )

    def _conn(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:  # never share a connection across fork
            self._local = threading.local()
            self._pid = os.getpid()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                str(self.path), timeout=60, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA busy_timeout = 60000")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- views --------------------------------------------------------------------------------

    def views(self) -> dict[str, OnlineView]:
        rows = self._conn().execute(f"SELECT doc FROM {_META}").fetchall()
        self._view_cache = {v.name: v for v in (OnlineView.from_json(r[0]) for r in rows)}
        self._sql = {k: v for k, v in self._sql.items() if k in self._view_cache}
        return dict(self._view_cache)

    def _statements(self, name: str, refresh: bool = False) -> tuple[OnlineView, str, str]:
        found = None if refresh else self._sql.get(name)
        if found is None:
            view = self.views().get(name)
            if view is None:
                raise self._missing(name)
            table = _table_name(view)
            values = ", ".join([TS, *(f"f{i}" for i in range(len(view.fields)))])
            where = " AND ".join(f"k{i} = ?" for i in range(len(view.join_keys)))
            keys = ", ".join(f"k{i}" for i in range(len(view.join_keys)))
            one = f'SELECT {values} FROM "{table}" WHERE {where}'
            many = f'SELECT {keys}, {values} FROM "{table}" WHERE '
            found = self._sql[name] = (view, one, many)
        return found

    # -- reads --------------------------------------------------------------------------------

    def lookup_one(self, name: str, key: tuple) -> tuple[OnlineView, tuple | None]:
        view, one, _many = self._sql.get(name) or self._statements(name)
        try:
            return view, self._conn().execute(one, key).fetchone()
        except sqlite3.OperationalError:  # the version changed and its table was dropped
            view, one, _many = self._statements(name, refresh=True)
            return view, self._conn().execute(one, key).fetchone()

    def lookup(self, name: str, keys: list[tuple]) -> tuple[OnlineView, list[tuple | None]]:
        try:
            return self._lookup(name, keys, refresh=False)
        except sqlite3.OperationalError:
            return self._lookup(name, keys, refresh=True)

    def _lookup(self, name: str, keys: list[tuple], refresh: bool):
        view, _one, many = self._statements(name, refresh)
        n_keys = len(view.join_keys)
        unique = list(dict.fromkeys(keys))
        found: dict[tuple, tuple] = {}
        conn = self._conn()
        step = max(1, _BATCH // n_keys)
        for i in range(0, len(unique), step):
            chunk = unique[i : i + step]
            if n_keys == 1:
                sql = many + f"k0 IN ({', '.join('?' * len(chunk))})"
                params = [k[0] for k in chunk]
            else:
                tuple_sql = "(" + ", ".join("?" * n_keys) + ")"
                cols = ", ".join(f"k{j}" for j in range(n_keys))
                sql = many + f"({cols}) IN (VALUES {', '.join([tuple_sql] * len(chunk))})"
                params = [v for k in chunk for v in k]
            for row in conn.execute(sql, params):
                found[row[:n_keys]] = row[n_keys:]
        return view, [found.get(k) for k in keys]

    # -- writes -------------------------------------------------------------------------------

    def write(self, view: OnlineView, table: pa.Table) -> int:
        n_keys, n_fields = len(view.join_keys), len(view.fields)
        name = _table_name(view)
        keys = [f"k{i}" for i in range(n_keys)]
        fields = [f"f{i}" for i in range(n_fields)]
        cols = [*keys, TS, CREATED, SEQ, *fields]
        create = (
            f'CREATE TABLE IF NOT EXISTS "{name}" ('
            + ", ".join([*keys, f"{TS} INTEGER NOT NULL", f"{CREATED} INTEGER", f"{SEQ} INTEGER"])
            + "".join(f", {f}" for f in fields)
            + f", PRIMARY KEY ({', '.join(keys)})) WITHOUT ROWID"
        )
        newer = (
            f"(excluded.{TS}, coalesce(excluded.{CREATED}, {_MIN}), excluded.{SEQ}) > "
            f'("{name}".{TS}, coalesce("{name}".{CREATED}, {_MIN}), "{name}".{SEQ})'
        )
        upsert = (
            f'INSERT INTO "{name}" ({", ".join(cols)}) VALUES ({", ".join("?" * len(cols))}) '
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in [TS, CREATED, SEQ, *fields])
            + f" WHERE {newer}"
        )
        source = [*view.join_keys, TS, CREATED, SEQ, *(f for f, _d in view.fields)]
        columns = [
            table.column(c).to_pylist() if c in table.column_names else [None] * table.num_rows
            for c in source
        ]
        rows = list(zip(*columns, strict=True)) if columns and table.num_rows else []
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(create)
            before = conn.total_changes
            conn.executemany(upsert, rows)
            written = conn.total_changes - before
            old = conn.execute(f"SELECT tbl FROM {_META} WHERE name = ?", (view.name,)).fetchone()
            conn.execute(
                f"INSERT INTO {_META} (name, version, tbl, doc, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET version = excluded.version, tbl = excluded.tbl, "
                "doc = excluded.doc, updated_at = excluded.updated_at",
                (view.name, view.version, name, view.to_json(), time.time()),
            )
            if old is not None and old[0] != name:
                conn.execute(f'DROP TABLE IF EXISTS "{old[0]}"')
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._sql.pop(view.name, None)
        self._view_cache[view.name] = view
        return written

    def drop(self, name: str) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            old = conn.execute(f"SELECT tbl FROM {_META} WHERE name = ?", (name,)).fetchone()
            if old is not None:
                conn.execute(f'DROP TABLE IF EXISTS "{old[0]}"')
                conn.execute(f"DELETE FROM {_META} WHERE name = ?", (name,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._sql.pop(name, None)
        self._view_cache.pop(name, None)
