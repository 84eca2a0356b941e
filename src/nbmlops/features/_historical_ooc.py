"""Point-in-time joins of entity rows larger than memory, with Feast's semantics unchanged.

- DuckDB: one ``ASOF LEFT JOIN`` per view over the entity source (Parquet/CSV path or URL,
  DuckDB relation, Arrow dataset) and the view's stored Parquet files, streamed and spilled to
  disk above ``configure(duckdb_memory_limit=...)``. The result is written to ``output``
  (Parquet) or returned as a lazy DuckDB relation.
- Dask: entity rows and each view's stored rows are shuffled into the same partitions by join
  key; every pair of partitions is joined by the same DuckDB query on a worker. The result is
  a Dask DataFrame (or written to ``output``).

For each entity row and view: the view's row with the same keys and the latest event time ``t``
with ``entity_time - ttl <= t <= entity_time``; ties by created timestamp (missing = oldest),
then write order; no such row gives nulls and the entity row is kept. Row order is not the
entity order (the rows are keyed: every entity column is kept).
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

from ..data import _duck as duck
from ..data.source import require_engine_versions
from ..errors import FeatureError
from .offline import SEQ, key_kind
from .registry import Request

_MAX = 2**63 - 1


def _entity_time(name: str, duck_type: str) -> str:
    """The entity time as a naive UTC TIMESTAMP."""
    q, t = duck.quote(name), duck_type.upper()
    if "TIME ZONE" in t:
        return f"timezone('UTC', {q})"
    if t.startswith("TIMESTAMP"):
        return f"CAST({q} AS TIMESTAMP)"
    return f"CAST({q} AS TIMESTAMP)"  # DATE or text: DuckDB's cast, an error names the value


def join_sql(
    entity: str,
    entity_types: dict[str, str],
    views: list[tuple[Request, str, str]],
    timestamp: str,
    part: tuple[int, int] | None = None,
) -> str:
    """The SELECT that adds every requested feature to the rows of table ``entity``.

    ``views`` holds ``(request, FROM clause of its stored rows, stored key kind per key)``.
    With ``part=(i, n)`` only the entity rows whose keys hash to ``i`` modulo ``n`` are
    joined, against only the view rows that can match them: the ``n`` parts together are the
    whole join, and each part sorts and spills only its share.
    """
    keys: list[str] = []
    for req, _source, _kinds in views:
        keys.extend(k for k in req.view.join_keys if k not in keys)
    missing = [c for c in [*keys, timestamp] if c not in entity_types]
    if missing:
        raise FeatureError(
            f"entity_df lacks columns {missing}; it needs the join keys {keys} and the event "
            f"time column {timestamp!r} (pass timestamp='your_column' if it is named otherwise)"
        )
    kinds: dict[str, str] = {}
    for _req, _source, key_kinds in views:
        kinds.update(key_kinds)
    cast = {
        k: f"CAST({duck.quote(k)} AS {'BIGINT' if kinds[k] == 'int' else 'VARCHAR'})" for k in keys
    }
    e_cols = ", ".join(f"{cast[k]} AS __k{i}" for i, k in enumerate(keys))
    e_ts = _entity_time(timestamp, entity_types[timestamp])
    # the part's rows: a hash of the keys every view joins on (the same cast on both sides,
    # so equal keys hash alike); views keyed otherwise are read whole by every part
    shared = [k for k in keys if all(k in req.view.join_keys for req, _s, _k in views)]
    hashed = shared or keys
    where = ""
    if part is not None:
        where = f" WHERE hash({', '.join(cast[k] for k in hashed)}) % {part[1]} = {part[0]}"
    parts = [
        f"e AS (SELECT *, {e_cols}, {e_ts} AS __ts, "
        f"{{'t': {e_ts}, 'c': {_MAX}::BIGINT, 's': {_MAX}::BIGINT}} AS __o FROM {entity}{where})"
    ]
    joins, selected = [], []
    for v, (req, source, _kinds) in enumerate(views):
        view = req.view
        ts = duck.quote(view.timestamp)
        created = (
            f"coalesce(epoch_us({duck.quote(view.created_timestamp)}), {-_MAX})"
            if view.created_timestamp
            else "0"
        )
        view_keys = ", ".join(f"{duck.quote(k)} AS __k{keys.index(k)}" for k in view.join_keys)
        fields = ", ".join(f"{duck.quote(f)} AS __f{v}_{j}" for j, f in enumerate(req.fields))
        parts.append(
            f"f{v} AS (SELECT {view_keys}, CAST({ts} AS TIMESTAMP) AS __t, "
            f"{{'t': CAST({ts} AS TIMESTAMP), 'c': {created}::BIGINT, 's': {SEQ}}} AS __o, "
            f"{fields} FROM {source}{where if set(hashed) <= set(view.join_keys) else ''})"
        )
        on = " AND ".join(f"e.__k{keys.index(k)} = f{v}.__k{keys.index(k)}" for k in view.join_keys)
        joins.append(f"ASOF LEFT JOIN f{v} ON {on} AND e.__o >= f{v}.__o")
        ttl_us = None if view.ttl is None else int(round(view.ttl * 1_000_000))
        fresh = "TRUE" if ttl_us is None else f"f{v}.__t >= e.__ts - to_microseconds({ttl_us})"
        for j, column in enumerate(req.columns):
            selected.append(f"CASE WHEN {fresh} THEN f{v}.__f{v}_{j} END AS {duck.quote(column)}")
    hidden = ", ".join([*(f"__k{i}" for i in range(len(keys))), "__ts", "__o"])
    return (
        f"WITH {', '.join(parts)} SELECT e.* EXCLUDE ({hidden}), {', '.join(selected)} "
        f"FROM e {' '.join(joins)}"
    )


def _check_keys(fs, req: Request, writes: list[dict], entity_families: dict[str, str]) -> dict:
    stored = fs.offline.schema(writes[0]["path"])
    kinds = {}
    for key in req.view.join_keys:
        kinds[key] = key_kind(stored.field(key).type)
        family = entity_families.get(key)
        entity_kind = {"integer": "int", "string": "string", "category": "string"}.get(family)
        if entity_kind != kinds[key]:
            raise FeatureError(
                f"entity column {key!r} holds {family} values but view {req.view.name!r} "
                f"stores {kinds[key]} keys; convert the column"
            )
    return kinds


def _null_source(req: Request, kinds: dict[str, str]) -> str:
    """A FROM clause with no rows, for a view nothing was written to."""
    view = req.view
    cols = [
        f"NULL::{'BIGINT' if kinds.get(k) == 'int' else 'VARCHAR'} AS {duck.quote(k)}"
        for k in view.join_keys
    ]
    cols += [f"NULL::TIMESTAMP AS {duck.quote(view.timestamp)}", f"NULL::BIGINT AS {SEQ}"]
    if view.created_timestamp:
        cols.append(f"NULL::TIMESTAMP AS {duck.quote(view.created_timestamp)}")
    cols += [f"NULL::{_duck_type(view.field(f))} AS {duck.quote(f)}" for f in req.fields]
    return f"(SELECT {', '.join(cols)} WHERE FALSE)"


def _duck_type(field) -> str:
    return {
        "float": "DOUBLE",
        "int": "BIGINT",
        "bool": "BOOLEAN",
        "string": "VARCHAR",
        "datetime": "TIMESTAMP",
    }.get(field.kind, "VARCHAR")


def join_duckdb(fs, entity: Any, requests: list[Request], timestamp: str, output, progress):
    """The join on DuckDB: a lazy relation, or the written ``output`` as a pyarrow Dataset."""
    require_engine_versions()
    import duckdb

    con = duck.connect()
    try:
        if isinstance(entity, duckdb.DuckDBPyRelation):
            # another connection's relation: streamed in once, as Arrow batches
            con.register("__nbmlops_entity", entity.to_arrow_reader())
            rel = con.sql("SELECT * FROM __nbmlops_entity")
        else:
            rel = duck.read_relation(con, entity, "entity_df")
        rel.create_view("__nbmlops_e")
        types = {str(c): str(t) for c, t in zip(rel.columns, rel.types, strict=True)}
        families = {c: duck._family(t) for c, t in types.items()}
        views = []
        for req in requests:
            writes = fs.records.writes(req.view.name, req.view.version)
            if writes:
                kinds = _check_keys(fs, req, writes, families)
                source = fs.offline.sql_source(con, [w["path"] for w in writes])
            else:
                kinds = {
                    k: {"integer": "int"}.get(families.get(k), "string") for k in req.view.join_keys
                }
                source = _null_source(req, kinds)
            views.append((req, source, kinds))
        if output is None:
            return con.sql(join_sql("__nbmlops_e", types, views, timestamp))
        import pyarrow.dataset as ds

        from ..data._base import DataSource

        steps = DataSource("entity_df", [], {}, progress)
        steps.engine = "duckdb"
        # a relation of another connection is streamed in once: it cannot be read per part
        parts = 1 if isinstance(entity, duckdb.DuckDBPyRelation) else _parts(con, types)
        if parts == 1:
            sql = join_sql("__nbmlops_e", types, views, timestamp)
            for _ in steps.steps([None], 1, "point-in-time join"):
                con.execute(f"COPY ({sql}) TO {duck.literal(str(output))} (FORMAT parquet)")
        else:
            _write_parts(con, types, views, timestamp, parts, str(output), steps)
        con.close()
        return ds.dataset(str(output), format="parquet")
    except duckdb.Error as exc:
        con.close()
        raise FeatureError(f"the point-in-time join failed in DuckDB: {exc}") from None
    except BaseException:
        con.close()
        raise


# Entity bytes per part of a join, as a multiple of DuckDB's memory limit. DuckDB's ASOF join
# sorts its whole entity side with every column, and spills about twice the rows' size: at 100M
# rows x 20 columns one join spilled more than 30 GB. Parts bound the spill to a few times
# the memory limit, at the price of one read of the entity rows per part.
PART_OF_MEMORY = 2.0
_BATCH_ROWS = 262_144  # rows per Arrow batch streamed from a part into the output file
_WIDTH = {"BOOLEAN": 1, "TINYINT": 1, "SMALLINT": 2, "INTEGER": 4, "FLOAT": 4, "DATE": 4}
_SIZE = re.compile(r"([\d.]+)\s*([KMGT]?i?B)", re.IGNORECASE)


def _memory_limit(con) -> float:
    """DuckDB's memory limit in bytes (it reports it as text such as ``'2.0 GiB'``)."""
    text = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    found = _SIZE.fullmatch(str(text).strip())
    if not found:
        return float("inf")
    unit = found.group(2).upper()
    power = "BKMGT".index(unit[0])
    return float(found.group(1)) * (1024 if "I" in unit else 1000) ** power


def _parts(con, types: dict[str, str]) -> int:
    """How many parts the join of view ``__nbmlops_e`` is cut in."""
    rows = con.execute("SELECT count(*) FROM __nbmlops_e").fetchall()[0][0]
    # DuckDB's row layout: 8 bytes a value, strings 16 plus their text; plus the join's keys
    width = 48 + sum(
        _WIDTH.get(t.upper(), 24 if "VARCHAR" in t.upper() else 8) for t in types.values()
    )
    return max(1, math.ceil(rows * width / (_memory_limit(con) * PART_OF_MEMORY)))


def _write_parts(con, types, views, timestamp, parts: int, output: str, steps) -> None:
    """The join in ``parts`` parts, each streamed into one Parquet file at ``output`` (a path
    or fsspec URL); a failed join leaves no file behind."""
    import fsspec
    import pyarrow.parquet as pq

    fs_out, path = fsspec.core.url_to_fs(output)
    writer = None
    try:
        with fs_out.open(path, "wb") as fh:
            for i in steps.steps(range(parts), parts, "point-in-time join"):
                sql = join_sql("__nbmlops_e", types, views, timestamp, part=(i, parts))
                reader = con.sql(sql).to_arrow_reader(_BATCH_ROWS)
                writer = writer or pq.ParquetWriter(fh, reader.schema)
                for batch in reader:
                    writer.write_batch(batch)
            writer.close()
    except BaseException:
        if fs_out.exists(path):
            fs_out.rm(path)
        raise


# Rows per partition of entity and view rows read from Parquet for a Dask join.
JOIN_PIECE_ROWS = 250_000


def _join_partition(entity_part, *args):
    """One partition of entity rows joined with the same-key partitions of every view
    (``args``: one partition per view, then the plan and the timestamp column)."""
    import duckdb

    *feature_parts, plan, timestamp = args
    con = duckdb.connect(":memory:")
    try:
        con.register("__e", entity_part)
        rel = con.sql("SELECT * FROM __e")
        types = {str(c): str(t) for c, t in zip(rel.columns, rel.types, strict=True)}
        views = []
        for v, ((req, kinds), part) in enumerate(zip(plan, feature_parts, strict=True)):
            con.register(f"__f{v}", part)
            views.append((req, f"__f{v}", kinds))
        return con.sql(join_sql("__e", types, views, timestamp)).df()
    finally:
        con.close()


def join_dask(
    fs, entity: Any, requests: list[Request], timestamp: str, output, scheduler, progress
):
    """The join on Dask, both sides partitioned by the join key; a lazy Dask DataFrame, or
    ``output`` written as Parquet and returned as a pyarrow Dataset."""
    require_engine_versions()
    import dask.dataframe as dd
    import pyarrow.dataset as ds

    from ..data import _dask
    from ..data._base import family_of_pandas

    client = _dask.client_for(scheduler)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    from_files = isinstance(entity, (str, os.PathLike, ds.Dataset))
    frame = _dask.read_frame(entity, "entity_df", workers, JOIN_PIECE_ROWS)
    families = {str(c): family_of_pandas(t) for c, t in frame.dtypes.items()}
    keys: list[str] = []
    for req in requests:
        keys.extend(k for k in req.view.join_keys if k not in keys)
    if len({tuple(r.view.join_keys) for r in requests}) > 1:
        raise FeatureError(
            "on Dask, every requested view must have the same join keys (the rows are "
            "partitioned by them); join views with other keys in a second call"
        )
    missing = [c for c in [*keys, timestamp] if c not in families]
    if missing:
        raise FeatureError(f"entity_df lacks columns {missing}")
    plan, stored = [], []
    for req in requests:
        writes = fs.records.writes(req.view.name, req.view.version)
        if not writes:
            raise FeatureError(
                f"view {req.view.name!r} has no rows yet; ingest rows before a Dask join"
            )
        kinds = _check_keys(fs, req, writes, families)
        columns = [*req.view.join_keys, req.view.timestamp, SEQ]
        if req.view.created_timestamp:
            columns.append(req.view.created_timestamp)
        columns += [f for f in req.fields if f not in columns]
        paths = [w["path"] for w in writes]
        stored.append(_dask.parquet_frame(fs.offline.fs, paths, JOIN_PIECE_ROWS)[columns])
        plan.append((req, kinds))
    # Small pieces before the shuffle: a worker holds a piece several times over while it
    # splits it by key (a 1M-row partition of 20 columns killed 1 GiB workers). Files are
    # read in such pieces; a Dask DataFrame given is cut in equal parts (repartitioning a
    # read file instead held the whole 1M-row group while cutting it, and killed workers too).
    if not from_files:
        frame = frame.repartition(npartitions=max(8 * frame.npartitions, 4 * workers))
    n = max(frame.npartitions, *(s.npartitions for s in stored))
    for key in keys:
        as_int = plan[0][1][key] == "int"
        frame = frame.assign(**{key: frame[key].astype("int64" if as_int else "string")})
        stored = [s.assign(**{key: s[key].astype("int64" if as_int else "string")}) for s in stored]
    left = frame.shuffle(on=keys, npartitions=n)
    rights = [s.shuffle(on=keys, npartitions=n) for s in stored]
    meta = _join_partition(frame._meta, *(s._meta for s in stored), plan, timestamp)
    joined = dd.map_partitions(
        _join_partition, left, *rights, plan, timestamp, meta=meta, align_dataframes=False
    )
    if output is None:
        return joined
    import dask
    import distributed
    import fsspec

    from ..data._base import DataSource

    # one Parquet file per partition, written by the worker that joined it
    fs_out, root = fsspec.core.url_to_fs(str(output))
    fs_out.makedirs(root, exist_ok=True)
    writes = [
        dask.delayed(_write_part)(part, fs_out, f"{root}/part-{i:05d}.parquet")
        for i, part in enumerate(joined.to_delayed())
    ]
    futures = client.compute(writes)
    steps = DataSource("entity_df", [], {}, progress)
    steps.engine = "dask"
    done = distributed.as_completed(futures, with_results=True)
    for _ in steps.steps(done, len(futures), "point-in-time join"):
        pass
    return ds.dataset(root, format="parquet", filesystem=fs_out)


def _write_part(frame, fs_out, path: str) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with fs_out.open(path, "wb") as fh:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), fh)
    return len(frame)
