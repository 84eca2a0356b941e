"""Point-in-time correct training sets: ``get_historical_features``.

For each entity row (join keys + event timestamp) and each requested view, the feature values
are those of the view's row with the same keys and the latest event time ``t`` such that
``entity_time - ttl <= t <= entity_time`` (both inclusive; no TTL = no lower bound). Rows with
the same event time are ordered by created timestamp (a missing one counts as oldest), then by
write order. No such row: the features are null and the entity row is kept. These are Feast's
semantics. Each view's stored rows are read once (Arrow) and joined by a sort and a binary
search over packed (key, time) numbers (:mod:`._asof`), or by DuckDB's ``ASOF LEFT JOIN`` when
those do not fit in 63 bits; the values are then taken by row position, in the entity order.

The result is the entity frame (same index, same row order, same columns) with one column per
feature; with an active run, the entity frame's fingerprint and the view versions are recorded
as run inputs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import FeatureError
from . import _asof, _duck, _historical_ooc
from .offline import SEQ, column_to_pandas, key_kind
from .registry import Request, resolve
from .schema import each, to_utc_naive

if TYPE_CHECKING:
    from .workspace import FeatureWorkspace

ROW, TS = "__nbmlops_row", "__nbmlops_ts"


def _key_kind(dtype: object) -> str | None:
    if pd.api.types.is_bool_dtype(dtype):
        return None
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_string_dtype(dtype) or dtype is np.dtype(object):
        return "string"
    return None


def _entity_key(entity_df: pd.DataFrame, key: str) -> tuple[pa.Array, str]:
    values = entity_df[key]
    if pd.api.types.is_float_dtype(values.dtype):
        present = values.dropna()
        if (present == np.floor(present)).all():
            values = values.astype("Int64")
    kind = _key_kind(values.dtype)
    if kind == "string" and values.dtype == object:
        ok = each(values, lambda v: isinstance(v, str) or v is None or v != v)
        if not ok.all():
            kind = None
    if kind is None:
        raise FeatureError(
            f"entity column {key!r} has dtype {entity_df[key].dtype}; join keys must be "
            "integers or strings"
        )
    if kind == "int":
        array = pa.array(values.astype("Int64"), type=pa.int64(), from_pandas=True)
    else:
        array = pa.array(values.astype("string"), type=pa.string(), from_pandas=True)
    return array, kind


def _entity_table(
    entity_df: pd.DataFrame, keys: list[str], timestamp: str
) -> tuple[pa.Table, dict[str, str]]:
    if not isinstance(entity_df, pd.DataFrame):
        raise FeatureError(
            f"entity_df must be a pandas DataFrame of join keys and {timestamp!r}, "
            f"not {type(entity_df).__name__}"
        )
    missing = [c for c in [*keys, timestamp] if c not in entity_df.columns]
    if missing:
        raise FeatureError(
            f"entity_df lacks columns {missing}; it needs the join keys {keys} and the event "
            f"time column {timestamp!r} (pass timestamp='your_column' if it is named otherwise)"
        )
    stamps = to_utc_naive(entity_df[timestamp].reset_index(drop=True))
    bad = stamps.isna()
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise FeatureError(
            f"entity_df[{timestamp!r}] has {int(bad.sum())} missing or unreadable timestamps "
            f"(first at position {first}: {entity_df[timestamp].iloc[first]!r}); every entity "
            "row needs the time at which its features are wanted"
        )
    columns = {ROW: pa.array(np.arange(len(entity_df), dtype=np.int64))}
    kinds = {}
    for key in keys:
        columns[key], kinds[key] = _entity_key(entity_df, key)
    columns[TS] = pa.array(stamps.to_numpy(), type=pa.timestamp("us"))
    return pa.table(columns), kinds


_MAX = 2**63 - 1
POS = "__nbmlops_pos"

#: "auto": numpy sort + binary search (:mod:`._asof`), DuckDB's ASOF JOIN when the packed keys
#: and times do not fit in 63 bits; "duckdb": always DuckDB (the tests run both).
ENGINE = "auto"


def _read_rows(fs: FeatureWorkspace, req: Request, writes: list[dict], unique: bool) -> pa.Table:
    """The stored rows of every write (keys, time, tie breakers unless ``unique``, fields),
    concatenated in write order."""
    view = req.view
    columns = [*view.join_keys, view.timestamp]
    if not unique:
        if view.created_timestamp:
            columns.append(view.created_timestamp)
        columns.append(SEQ)
    columns += [f for f in req.fields if f not in columns]
    tables = []
    for w in writes:
        with fs.offline.fs.open(w["path"], "rb") as fh:
            tables.append(pq.read_table(fh, columns=columns))
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")


def _micros(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(column.cast(pa.timestamp("us")).cast(pa.int64()).to_numpy(), dtype=np.int64)


def _duckdb_rows(
    entity: pa.Table, table: pa.Table, req: Request, ttl_us: int | None, unique: bool
) -> np.ndarray:
    """The matching row of ``table`` for every entity row (-1: none) by DuckDB's ASOF JOIN."""
    view = req.view
    n = entity.num_rows
    keys = ", ".join(_duck.quote(k) for k in view.join_keys)
    ts = _duck.quote(view.timestamp)
    stamps = entity.column(TS).cast(pa.int64()).to_numpy()
    lo, hi = (int(stamps.min()), int(stamps.max())) if n else (0, 0)
    where = [f"{ts} <= make_timestamp({hi})"]
    if ttl_us is not None:
        where.append(f"{ts} >= make_timestamp({lo - ttl_us})")
    if unique:
        order_f, order_e = ts, TS
    else:
        created = (
            f"coalesce(epoch_us({_duck.quote(view.created_timestamp)}), {-_MAX})"
            if view.created_timestamp
            else "0"
        )
        order_f = f"{{'t': {ts}, 'c': {created}::BIGINT, 's': {SEQ}}}"
        order_e = f"{{'t': {TS}, 'c': {_MAX}::BIGINT, 's': {_MAX}::BIGINT}}"
    on = " AND ".join(f"e.{_duck.quote(k)} = f.{_duck.quote(k)}" for k in view.join_keys)
    fresh = "TRUE" if ttl_us is None else f"f.__t >= e.{TS} - to_microseconds({ttl_us})"
    sql = (
        f"WITH e AS (SELECT {ROW}, {keys}, {TS}, {order_e} AS __o FROM e0), "
        f"f AS (SELECT {keys}, {ts} AS __t, {POS}, {order_f} AS __o FROM f0 "
        f"WHERE {' AND '.join(where)}) "
        f"SELECT e.{ROW}, CASE WHEN {fresh} THEN f.{POS} END AS __p "
        f"FROM e ASOF LEFT JOIN f ON {on} AND e.__o >= f.__o"
    )
    con = _duck.connect()
    try:
        con.register("e0", entity)
        con.register("f0", table.append_column(POS, pa.array(np.arange(table.num_rows))))
        result = _duck.arrow(con, sql)
    finally:
        con.close()
    rows = np.full(n, -1, dtype=np.int64)
    rows[result.column(ROW).to_numpy()] = pc.fill_null(result.column("__p"), -1).to_numpy()
    return rows


def _gather(table: pa.Table, rows: np.ndarray, req: Request) -> dict[str, pd.Series]:
    """The requested fields of ``table`` at ``rows`` (-1: null), as pandas columns."""
    missing = rows < 0
    at = np.where(missing, 0, rows)
    indices = None
    out = {}
    for field_name, column in zip(req.fields, req.columns, strict=True):
        field = req.view.field(field_name)
        values = table.column(field_name)
        if field.kind == "float" and values.null_count == 0 and len(values):
            array = np.take(values.to_numpy(), at)
            array[missing] = np.nan
            out[column] = pd.Series(array, dtype=field.pandas_dtype, copy=False)
        else:
            if indices is None:
                indices = pa.array(at, mask=missing, type=pa.int64())
            out[column] = column_to_pandas(pc.take(values, indices), field.pandas_dtype)
    return out


def _view_rows(
    entity: pa.Table,
    table: pa.Table,
    req: Request,
    unique: bool,
    pool: ThreadPoolExecutor,
) -> np.ndarray:
    view = req.view
    ttl_us = None if view.ttl is None else int(round(view.ttl * 1_000_000))
    if ENGINE == "auto" and pa.types.is_timestamp(table.schema.field(view.timestamp).type):
        e_key, f_key, n_keys = _asof.key_codes(
            [entity.column(k).combine_chunks() for k in view.join_keys],
            [table.column(k) for k in view.join_keys],
        )
        ties = None
        if not unique:
            created = table.column(view.created_timestamp) if view.created_timestamp else None
            ties = (created, table.column(SEQ))
        rows = _asof.asof_rows(
            e_key,
            _micros(entity.column(TS)),
            f_key,
            _micros(table.column(view.timestamp)),
            n_keys,
            ttl_us,
            ties,
            pool,
        )
        if rows is not None:
            return rows
    return _duckdb_rows(entity, table, req, ttl_us, unique)


def point_in_time_join(
    fs: FeatureWorkspace, entity_df: pd.DataFrame, requests: list[Request], timestamp: str
) -> dict[str, pd.Series]:
    """The feature columns (by output name) for ``entity_df``, in its row order."""
    keys: list[str] = []
    for req in requests:
        keys.extend(k for k in req.view.join_keys if k not in keys)
    entity, kinds = _entity_table(entity_df, keys, timestamp)
    n = len(entity_df)
    out: dict[str, pd.Series] = {}
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        for req in requests:
            view = req.view
            writes = fs.records.writes(view.name, view.version)
            if not writes:
                for field_name, column in zip(req.fields, req.columns, strict=True):
                    dtype = view.field(field_name).pandas_dtype
                    out[column] = pd.Series(pd.array([None] * n, dtype=dtype))
                continue
            stored = fs.offline.schema(writes[0]["path"])
            for key in view.join_keys:
                stored_kind = key_kind(stored.field(key).type)
                if stored_kind != kinds[key]:
                    raise FeatureError(
                        f"entity column {key!r} holds {kinds[key]} values but view "
                        f"{view.name!r} stores {stored_kind} keys; convert the column (e.g. "
                        f"entity_df[{key!r}].astype({'str' if stored_kind == 'string' else 'int'}))"
                    )
            # with one write whose (keys, time) pairs are unique nothing can tie
            unique = len(writes) == 1 and bool(writes[0].get("unique_keys"))
            table = _read_rows(fs, req, writes, unique)
            rows = _view_rows(entity, table, req, unique, pool)
            out.update(_gather(table, rows, req))
    finally:
        pool.shutdown(wait=True)
    return out


def _record_lineage(entity_df: pd.DataFrame, requests: list[Request], name: str, refs) -> None:
    from ..tracking import active_run
    from ..tracking.fingerprint import fingerprint

    run = active_run()
    if run is None:
        return
    fp = fingerprint(entity_df)
    views = {r.view.name: {"version": r.view.version, "digest": r.view.digest} for r in requests}
    now = time.time()
    rows = [
        {
            "direction": "input",
            "name": name,
            **fp.as_row(),
            "info": json.dumps({"role": "entity_df", "features": list(refs), "views": views}),
            "created_at": now,
        }
    ]
    for req in requests:
        rows.append(
            {
                "direction": "input",
                "name": f"feature_view:{req.view.name}",
                "kind": "nbmlops.FeatureView",
                "digest": req.view.digest,
                "shape": None,
                "schema": json.dumps(
                    [[f, req.view.field(f).dtype] for f in req.view.feature_names]
                ),
                "info": json.dumps(
                    {"version": req.view.version, "fields": req.fields, "training_set": name}
                ),
                "created_at": now,
            }
        )
    run._record_data_rows(rows)


def get_historical_features(
    fs: FeatureWorkspace,
    entity_df: pd.DataFrame,
    features: Sequence[str] | str,
    *,
    full_feature_names: bool = False,
    timestamp: str = "event_timestamp",
    name: str = "training_set",
    record: bool = True,
    engine: str | None = None,
    scheduler=None,
    output=None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """``entity_df`` with the point-in-time correct value of every feature in ``features``.

    ``features`` are references ``"view:field"`` (``"view@2:field"`` pins a version,
    ``"view:*"`` takes every field). Feature columns are named by field, or ``view__field``
    with ``full_feature_names=True``; a name clash raises FeatureNameCollision.

    Entity rows larger than memory (a Parquet/CSV path or URL, a DuckDB relation, a pyarrow
    Dataset, a Dask DataFrame) are joined on ``engine`` (``"duckdb"`` by default, spilling
    above ``configure(duckdb_memory_limit=...)``; ``"dask"`` on ``scheduler``, partitioned by
    join key) with the same semantics; the result is written to ``output`` (Parquet, returned
    as a pyarrow Dataset) or returned lazily (a DuckDB relation or a Dask DataFrame). See
    :mod:`._historical_ooc`.
    """
    from ..data import is_out_of_core

    if engine is not None or is_out_of_core(entity_df):
        return _join_out_of_core(
            fs,
            entity_df,
            features,
            full_feature_names,
            timestamp,
            engine,
            scheduler,
            output,
            progress,
        )
    if not isinstance(entity_df, pd.DataFrame):
        raise FeatureError(f"entity_df must be a pandas DataFrame, not {type(entity_df).__name__}")
    requests = resolve(fs, features, full_feature_names, taken=[str(c) for c in entity_df.columns])
    columns = point_in_time_join(fs, entity_df, requests, timestamp)
    result = entity_df.copy()
    for column, values in columns.items():
        result[column] = values.array
    if record:
        refs = [features] if isinstance(features, str) else list(features)
        _record_lineage(entity_df, requests, name, refs)
    return result


def _join_out_of_core(
    fs, entity, features, full_feature_names, timestamp, engine, scheduler, output, progress
):
    from ..data import ENGINES, as_source

    if engine is None:
        engine = "dask" if type(entity).__module__.startswith("dask") or scheduler else "duckdb"
    if engine not in ENGINES:
        raise FeatureError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    show = True if progress is None else bool(progress)
    if engine == "dask":
        import dask.dataframe as dd

        columns = [str(c) for c in entity.columns] if isinstance(entity, dd.DataFrame) else None
    else:
        columns = None
    if columns is None:
        src = as_source(entity, "entity_df", engine, scheduler, progress=False)
        columns = list(src.columns)
        src.close()
    requests = resolve(fs, features, full_feature_names, taken=columns)
    if engine == "duckdb":
        return _historical_ooc.join_duckdb(fs, entity, requests, timestamp, output, show)
    return _historical_ooc.join_dask(fs, entity, requests, timestamp, output, scheduler, show)
