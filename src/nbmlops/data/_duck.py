"""The DuckDB engine: every aggregate is one SQL query over the source, which DuckDB streams
from its files (or Arrow dataset, or the user's relation) in parallel, spilling to disk above
its memory limit (``configure(duckdb_memory_limit=...)``).

Exact order statistics use ``quantile_disc``, one column per query: DuckDB holds that one
column's values while it selects (8 bytes a row), never the table.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import numpy as np

from ..errors import DataSourceError, UnsupportedData
from ._base import DataSource, resolve_paths

TABLE = "__nbmlops_t"
MANY_EDGES = 256  # above: bins by cells and a join, not histogram()
EXAMPLES = 5


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"CAST({float(value)!r} AS DOUBLE)"
    return "'" + str(value).replace("'", "''") + "'"


def doubles(values: np.ndarray) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]::DOUBLE[]"


def connect():
    """A DuckDB connection with the workspace's memory limit and spill directory."""
    import duckdb

    from ..config import get_settings

    settings = get_settings()
    con = duckdb.connect(":memory:")
    if settings.duckdb_temp_directory:  # DuckDB creates it when it first spills
        con.execute(f"SET temp_directory = {literal(settings.duckdb_temp_directory)}")
    if settings.duckdb_memory_limit:
        try:
            con.execute(f"SET memory_limit = {literal(settings.duckdb_memory_limit)}")
        except duckdb.Error as exc:
            con.close()
            raise DataSourceError(
                f"DuckDB rejects memory limit {settings.duckdb_memory_limit!r} ({exc}); give "
                "a size such as '4GB'"
            ) from None
    con.execute("SET enable_progress_bar = false")  # nbmlops shows its own (tqdm)
    con.execute("SET preserve_insertion_order = false")  # lets big scans spill and stream
    return con


def _family(duck_type: str) -> str:
    t = duck_type.upper()
    if t == "BOOLEAN":
        return "bool"
    if t.startswith("ENUM"):
        return "category"
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT"):
        return "integer"
    if t in ("UINTEGER", "UBIGINT", "UHUGEINT"):
        return "integer"
    if t in ("FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL"):
        return "float"
    if t.startswith("TIMESTAMP") or t == "DATE":
        return "datetime"
    return "string"


def read_relation(con, data: Any, argument: str):
    """A relation over ``data`` on ``con`` (paths, DataFrames and Arrow data)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    if isinstance(data, (str, os.PathLike)):
        fs, files, fmt = resolve_paths(data, argument)
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        if protocol not in ("file", "local"):
            con.register_filesystem(fs)
            files = [f"{protocol}://{f}" for f in files]
        listed = "[" + ", ".join(literal(f) for f in files) + "]"
        reader = "read_parquet" if fmt == "parquet" else "read_csv"
        rel = con.sql(f"SELECT * FROM {reader}({listed})")
        # pandas stores a frame's index as __index_level_N__; pandas reads it back as the
        # index, not a column, and so do we
        index = [c for c in rel.columns if re.fullmatch(r"__index_level_\d+__", str(c))]
        if index:
            hidden = ", ".join(quote(c) for c in index)
            rel = con.sql(f"SELECT * EXCLUDE ({hidden}) FROM {reader}({listed})")
        return rel
    if isinstance(data, (pd.DataFrame, pa.Table, ds.Dataset)):
        name = f"__nbmlops_in_{id(data)}"
        con.register(name, data)
        return con.sql(f"SELECT * FROM {quote(name)}")
    raise UnsupportedData(argument, data, "duckdb")


def source(data: Any, argument: str, progress: bool) -> DuckSource:
    import duckdb

    if isinstance(data, duckdb.DuckDBPyRelation):
        return DuckSource(data, None, argument, progress)
    con = connect()
    try:
        rel = read_relation(con, data, argument)
    except duckdb.Error as exc:
        con.close()
        raise DataSourceError(f"{argument}: DuckDB cannot read it: {exc}") from None
    except BaseException:
        con.close()
        raise
    return DuckSource(rel, con, argument, progress)


class DuckSource(DataSource):
    engine = "duckdb"

    def __init__(self, rel, con, label: str, progress: bool):
        columns = [str(c) for c in rel.columns]
        self.types = {c: str(t) for c, t in zip(columns, rel.types, strict=True)}
        families = {c: _family(t) for c, t in self.types.items()}
        super().__init__(label, columns, families, progress)
        self.rel, self.con = rel, con
        self._finite: dict[str, int] = {}  # finite values per profiled column

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def sql(self, query: str, desc: str | None = None) -> list[tuple]:
        """Run ``query`` over the source (``desc``: a pass over the data, shown as a bar)."""
        import duckdb

        try:
            if desc is None:
                return self.rel.query(TABLE, query).fetchall()
            for _ in self.steps([None], 1, desc):
                rows = self.rel.query(TABLE, query).fetchall()
            return rows
        except duckdb.Error as exc:
            raise DataSourceError(f"{self.label}: DuckDB failed: {exc}") from None

    def number(self, column: str) -> str:
        """The column as DOUBLE (datetimes: seconds since 1970 UTC)."""
        q = quote(column)
        if self.families[column] == "datetime":
            if self.types[column].upper() == "DATE":
                q = f"CAST({q} AS TIMESTAMP)"
            return f"(epoch_us({q}) / 1e6)"
        return f"CAST({q} AS DOUBLE)"

    def _missing(self, column: str) -> str:
        q = quote(column)
        if self.families[column] == "float":
            return f"({q} IS NULL OR isnan(CAST({q} AS DOUBLE)))"
        return f"({q} IS NULL)"

    @property
    def num_rows(self) -> int:
        if self._rows is None:
            self._rows = int(self.sql(f"SELECT count(*) FROM {TABLE}", "rows")[0][0])
        return self._rows

    def profile(self, columns: list[str]) -> dict[str, dict[str, Any]]:
        # One query per column: the files are columnar, so each reads only its column, and
        # DuckDB slows down with many aggregates in one query (measured 10× for 20 columns).
        out: dict[str, dict[str, Any]] = {}
        for column in self.steps(list(columns), len(columns), "profile"):
            out.update(self._profile([column]))
        if not columns:
            self._rows = int(self.sql(f"SELECT count(*) FROM {TABLE}")[0][0])
        return out

    def _profile(self, columns: list[str]) -> dict[str, dict[str, Any]]:
        # the numbers are computed once in an inner projection, aggregated outside
        inner, parts, layout = [], ["count(*)"], []
        for i, c in enumerate(columns):
            inner.append(f"{self._missing(c)} AS m{i}")
            parts.append(f"count_if(m{i})")
            if self.families[c] in ("integer", "float", "datetime"):
                inner.append(f"{self.number(c)} AS v{i}")
                inner.append(f"isfinite(v{i}) AS f{i}")
                fin = f"FILTER (WHERE f{i})"
                parts += [
                    f"count_if(f{i})",
                    f"count_if(isinf(v{i}))",
                    f"count_if(v{i} = '-inf'::DOUBLE)",
                    f"min(v{i}) {fin}",
                    f"max(v{i}) {fin}",
                    f"avg(v{i}) {fin}",
                    f"stddev_pop(v{i}) {fin}",
                ]
                layout.append((c, True))
            else:
                layout.append((c, False))
        query = f"SELECT {', '.join(parts)} FROM (SELECT {', '.join(inner) or '1'} FROM {TABLE})"
        values = list(self.sql(query)[0])
        self._rows = int(values.pop(0))
        out = {}
        for c, numeric in layout:
            entry: dict[str, Any] = {"nulls": int(values.pop(0))}
            if numeric:
                n, n_inf, n_neg, lo, hi, mean, std = (values.pop(0) for _ in range(7))
                self._finite[c] = int(n)
                entry.update(
                    n=int(n),
                    n_inf=int(n_inf),
                    n_neg_inf=int(n_neg),
                    min=_float(lo),
                    max=_float(hi),
                    mean=_float(mean),
                    std=_float(std),
                )
            out[c] = entry
        return out

    def order_stats(self, ranks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for column in self.steps(list(ranks), len(ranks), "quantiles"):
            wanted = np.asarray(ranks[column], dtype=np.int64)
            v = self.number(column)
            n = self._finite.get(column)
            if n is None:  # not profiled yet: one more pass
                n = int(self.sql(f"SELECT count_if(isfinite({v})) FROM {TABLE}")[0][0])
            if n == 0 or len(wanted) == 0:
                out[column] = np.full(len(wanted), np.nan)
                continue
            # quantile_disc(q) is the value at 0-based rank ceil(q * n) - 1: q = (k + ½) / n
            # lands on rank k with no rounding doubt.
            qs = (np.clip(wanted, 0, n - 1) + 0.5) / n
            query = f"SELECT quantile_disc({v}, {doubles(qs)}) FROM {TABLE} WHERE isfinite({v})"
            out[column] = np.asarray(self.sql(query)[0][0], dtype=float)
        return out

    def bin_counts(self, edges: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for column in self.steps(list(edges), len(edges), "bins"):
            e = np.asarray(edges[column], dtype=float)
            v = self.number(column)
            if len(e) == 0:
                n = self.sql(f"SELECT count_if(isfinite({v})) FROM {TABLE}")[0][0]
                out[column] = np.array([int(n)])
            elif len(e) > MANY_EDGES and self.con is not None:
                out[column] = self._bins_by_cells(v, e)
            else:
                out[column] = self._bins_by_histogram(v, e)
        return out

    def cell_counts(self, cells: dict[str, tuple[float, float, int]]) -> dict[str, np.ndarray]:
        out = {}
        for column in self.steps(list(cells), len(cells), "cells"):
            low, width, n = cells[column]
            v = self.number(column)
            k = f"least(greatest(floor(({v} - {low!r}) / {width!r})::BIGINT, 0), {n - 1})"
            rows = self.sql(f"SELECT {k}, count(*) FROM {TABLE} WHERE isfinite({v}) GROUP BY 1")
            counts = np.zeros(n, dtype=np.int64)
            for at, count in rows:
                counts[int(at)] = int(count)
            out[column] = counts
        return out

    def _bins_by_histogram(self, v: str, e: np.ndarray) -> np.ndarray:
        # histogram() buckets are (b_prev, b]; b = the double just below e makes [e_prev, e).
        # Its cost grows with the number of boundaries: for few edges only.
        bounds = np.nextafter(e, -np.inf)
        query = f"SELECT histogram({v}, {doubles(bounds)}) FROM {TABLE} WHERE isfinite({v})"
        found = self.sql(query)[0][0] or {}
        counts = np.zeros(len(e) + 1, dtype=np.int64)
        index = {float(b): i for i, b in enumerate(bounds)}
        for key, count in dict(found).items():
            counts[index.get(float(key), len(e))] += int(count)
        return counts

    def _bins_by_cells(self, v: str, e: np.ndarray) -> np.ndarray:
        """Counts in many bins: each value falls in one of 2·len(e) equal cells (arithmetic),
        is joined to the few bins that overlap its cell or a neighbour, and kept in the one
        whose ``[low, high)`` holds it: exact, at the cost of a small hash join."""
        import pyarrow as pa

        cells = 2 * len(e)
        lo, hi = float(e[0]), float(e[-1])
        width = (hi - lo) / cells if hi > lo else 1.0
        bounds = np.concatenate([[-np.inf], e, [np.inf]])  # bin i is [bounds[i], bounds[i+1])
        starts = lo + width * np.arange(-1, cells + 1)  # cell c covers starts[c+1] ..
        first = np.clip(np.searchsorted(e, starts - width, side="right"), 0, len(e))
        last = np.clip(np.searchsorted(e, starts + 2 * width, side="right"), 0, len(e))
        cell_ids = np.arange(-1, cells + 1)
        repeat = last - first + 1
        lookup = pa.table(
            {
                "cell": np.repeat(cell_ids, repeat),
                "bin": np.concatenate(
                    [np.arange(f, t + 1) for f, t in zip(first, last, strict=True)]
                ),
            }
        )
        bins = lookup.column("bin").to_numpy()
        lookup = lookup.append_column("lo", pa.array(bounds[bins])).append_column(
            "hi", pa.array(bounds[bins + 1])
        )
        name = f"__nbmlops_cells_{id(lookup)}"
        self.con.register(name, lookup)
        try:
            cell = (
                f"CASE WHEN x < {lo!r} THEN -1 WHEN x >= {hi!r} THEN {cells} "
                f"ELSE least(floor((x - {lo!r}) / {width!r})::BIGINT, {cells - 1}) END"
            )
            rows = self.sql(
                f"SELECT l.bin, count(*) FROM (SELECT x, {cell} AS cell FROM (SELECT {v} AS x "
                f"FROM {TABLE} WHERE isfinite({v}))) d JOIN {name} l ON d.cell = l.cell "
                "AND d.x >= l.lo AND d.x < l.hi GROUP BY l.bin"
            )
        finally:
            self.con.unregister(name)
        counts = np.zeros(len(e) + 1, dtype=np.int64)
        for b, count in rows:
            counts[int(b)] = int(count)
        return counts

    def _value_expr(self, column: str, numeric: bool) -> tuple[str, str]:
        if numeric:
            v = self.number(column)
            return v, f"isfinite({v})"
        return quote(column), f"NOT {self._missing(column)}"

    def distinct(self, column: str, limit: int, numeric: bool) -> list | None:
        v, ok = self._value_expr(column, numeric)
        # HyperLogLog first: a column with millions of values is never grouped for this.
        approx = self.sql(
            f"SELECT approx_count_distinct({v}) FROM {TABLE} WHERE {ok}", f"distinct {column}"
        )[0][0]
        if approx is not None and approx > 4 * limit + 10:
            return None
        rows = self.sql(f"SELECT DISTINCT {v} FROM {TABLE} WHERE {ok} LIMIT {limit + 1}")
        return None if len(rows) > limit else [r[0] for r in rows]

    def value_counts(self, column: str, numeric: bool) -> tuple[list, np.ndarray]:
        v, ok = self._value_expr(column, numeric)
        rows = self.sql(
            f"SELECT {v}, count(*) FROM {TABLE} WHERE {ok} GROUP BY 1",
            f"value counts of {column}",
        )
        values = [r[0] for r in rows]
        if self.families[column] == "category":
            values = [str(x) for x in values]
        return values, np.array([r[1] for r in rows], dtype=float)

    def values(self, column: str) -> np.ndarray:
        v = self.number(column)
        rows = self.sql(f"SELECT {v} FROM {TABLE} WHERE isfinite({v}) ORDER BY 1", "values")
        return np.array([r[0] for r in rows], dtype=float)

    def outside(self, column: str, low: float | None, high: float | None) -> tuple[int, list]:
        v = self.number(column)
        conditions = [f"NOT isfinite({v})"]  # NaN-free here; an infinity is out of any range
        if low is not None:
            conditions.append(f"{v} < {literal(float(low))}")
        if high is not None:
            conditions.append(f"{v} > {literal(float(high))}")
        where = f"NOT {self._missing(column)} AND ({' OR '.join(conditions)})"
        count = self.sql(f"SELECT count(*) FROM {TABLE} WHERE {where}", f"range {column}")[0][0]
        shown = self.sql(f"SELECT {quote(column)} FROM {TABLE} WHERE {where} LIMIT {EXAMPLES}")
        return int(count), [r[0] for r in shown]

    def not_in(self, column: str, allowed: list) -> tuple[int, list]:
        q = quote(column)
        text = self.families[column] in ("string", "category")
        listed = ", ".join(literal(str(a) if text else a) for a in allowed) or "NULL"
        value = f"CAST({q} AS VARCHAR)" if text else q
        where = f"NOT {self._missing(column)} AND {value} NOT IN ({listed})"
        count = self.sql(f"SELECT count(*) FROM {TABLE} WHERE {where}", f"allowed {column}")[0][0]
        shown = self.sql(f"SELECT DISTINCT {q} FROM {TABLE} WHERE {where} LIMIT {EXAMPLES}")
        return int(count), [r[0] for r in shown]

    def duplicated(self, column: str) -> tuple[int, list]:
        q = quote(column)
        rows = self.sql(
            f"SELECT sum(__n), list(__v ORDER BY __v)[1:{EXAMPLES}] FROM (SELECT {q} AS __v, "
            f"count(*) AS __n FROM {TABLE} WHERE NOT {self._missing(column)} GROUP BY 1 "
            "HAVING count(*) > 1)",
            f"duplicates {column}",
        )
        count, shown = rows[0]
        return int(count or 0), list(shown or [])


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)
