"""DuckDB helpers shared by the offline joins and materialization."""

from __future__ import annotations

import duckdb
import pyarrow as pa


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection (threads: DuckDB's default, all cores)."""
    return duckdb.connect(":memory:")


def arrow(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Run ``sql`` and return the whole result as an Arrow table (no extra copy)."""
    relation = con.sql(sql)
    fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    return fetch()


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
