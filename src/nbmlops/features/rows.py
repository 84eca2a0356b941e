"""Writing a view's rows to the offline store (``ingest``: transform, validate, write one file,
commit) and reading them back (``read_rows``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import FeatureError
from . import _asof
from .definition import FeatureView
from .offline import SEQ, WriteResult, key_kind, to_pandas
from .schema import conform

if TYPE_CHECKING:
    from .workspace import FeatureWorkspace


def _read_source(view: FeatureView) -> pd.DataFrame:
    source = view.source
    if source is None:
        raise FeatureError(
            f"feature view {view.name!r} has no source; pass the data: "
            f"nbmlops.features.ingest(view, data)"
        )
    try:
        with fsspec.open(source, "rb") as fh:
            if source.lower().endswith((".csv", ".csv.gz", ".tsv")):
                return pd.read_csv(fh, sep="\t" if source.lower().endswith(".tsv") else ",")
            return pd.read_parquet(fh)
    except FileNotFoundError:
        raise FeatureError(
            f"the source of feature view {view.name!r} does not exist: {source!r}"
        ) from None


def transform(view: FeatureView, data: Any = None) -> pd.DataFrame:
    """The feature rows of ``view`` for ``data`` (default: its source)."""
    frame = _read_source(view) if data is None else data
    if view.transformation is not None:
        rows = view.transformation(frame)
        if not isinstance(rows, pd.DataFrame):
            raise FeatureError(
                f"the transformation of view {view.name!r} returned {type(rows).__name__}; "
                "it must return a pandas DataFrame of feature rows"
            )
        return rows
    if view.transformation_source is not None:
        raise FeatureError(
            f"feature view {view.name!r} v{view.version} has a transformation that was defined "
            "in another process; nbmlops never runs code read from the store. Pass the "
            "FeatureView object from your code to ingest()"
        )
    return frame


def ingest(fs: FeatureWorkspace, view: FeatureView | str, data: Any = None) -> WriteResult:
    """Transform ``data`` (or the view's source), validate and write the feature rows."""
    from ..tracking import active_run
    from . import registry

    if isinstance(view, FeatureView) and (
        view.version is None or (view.name, view.digest) not in registry._live
    ):
        registry.apply(fs, [view])
    view = registry.get_view(fs, view)
    rows = conform(view, transform(view, data))
    assert view.version is not None
    if rows.empty:
        return WriteResult(view.name, view.version, 0, None, None)
    run = active_run()
    records = fs.records
    _check_key_kinds(fs, view, rows)
    write_id = records.begin_write(view.name, view.version, run.run_id if run else None)
    path = fs.offline.new_path(view.name, view.version, write_id)
    try:
        table = pa.Table.from_pandas(rows, preserve_index=False)
        seq = pa.array(range(write_id << 32, (write_id << 32) + len(rows)), type=pa.int64())
        table = table.append_column(SEQ, seq)
        # stored grouped by key, sorted by time, created time and write order: point-in-time
        # joins then need no sort of the feature rows (``__seq`` keeps the write order)
        order = _asof.storage_order(
            [table.column(k) for k in view.join_keys],
            np.asarray(table.column(view.timestamp).cast(pa.int64()).to_numpy()),
            table.column(view.created_timestamp) if view.created_timestamp else None,
        )
        if order is not None:
            table = table.take(order)
        size = fs.offline.write_table(table, path)
        stamps = rows[view.timestamp]
        records.commit_write(
            write_id,
            path=path,
            rows=len(rows),
            size=size,
            min_event_time=stamps.min().timestamp(),
            max_event_time=stamps.max().timestamp(),
            unique_keys=not rows.duplicated([*view.join_keys, view.timestamp]).any(),
        )
    except BaseException:
        records.abort_write(write_id)
        fs.offline.remove(path)
        raise
    return WriteResult(view.name, view.version, len(rows), write_id, path)


def _check_key_kinds(fs: FeatureWorkspace, view: FeatureView, rows: pd.DataFrame) -> None:
    """Refuse rows whose join keys are of another kind than the view's stored ones (a view
    holding both integer and string keys could not be joined or read back)."""
    writes = fs.records.writes(view.name, view.version)
    if not writes or rows.empty:
        return
    stored = fs.offline.schema(writes[0]["path"])
    for key in view.join_keys:
        was = key_kind(stored.field(key).type)
        now = "int" if pd.api.types.is_integer_dtype(rows[key].dtype) else "string"
        if was != now:
            raise FeatureError(
                f"view {view.name!r} v{view.version} stores {was} join keys in {key!r}, these "
                f"rows hold {now} values; convert the column "
                f"(e.g. rows[{key!r}].astype({'str' if was == 'string' else 'int'}))"
            )


def committed_paths(fs: FeatureWorkspace, view: FeatureView) -> list[str]:
    return [w["path"] for w in fs.records.writes(view.name, view.version)]


def read_rows(
    fs: FeatureWorkspace,
    view: FeatureView | str,
    version: int | None = None,
    latest: bool = False,
) -> pd.DataFrame:
    """Every stored row of ``view`` (or, with ``latest=True``, the latest row per entity)."""
    from . import _duck, registry

    view = registry.get_view(fs, view, version) if isinstance(view, str) else view
    cols = [*view.join_keys, view.timestamp]
    if view.created_timestamp:
        cols.append(view.created_timestamp)
    cols += view.feature_names
    paths = committed_paths(fs, view)
    if not paths:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    con = _duck.connect()
    try:
        select = ", ".join(f'"{c}"' for c in cols)
        source = fs.offline.sql_source(con, paths)
        if latest:
            sql = (
                f"SELECT {select} FROM {source} QUALIFY row_number() OVER "
                f"(PARTITION BY {_keys(view)} ORDER BY {_order(view)}) = 1 ORDER BY {_keys(view)}"
            )
        else:
            sql = f'SELECT {select} FROM {source} ORDER BY {_keys(view)}, "{view.timestamp}", {SEQ}'
        table = _duck.arrow(con, sql)
    finally:
        con.close()
    return to_pandas(view, table)


def _keys(view: FeatureView) -> str:
    return ", ".join(f'"{k}"' for k in view.join_keys)


def _order(view: FeatureView) -> str:
    """Newest first: event time, then created time (missing = oldest), then write order."""
    parts = [f'"{view.timestamp}" DESC']
    if view.created_timestamp:
        parts.append(f'"{view.created_timestamp}" DESC NULLS LAST')
    parts.append(f"{SEQ} DESC")
    return ", ".join(parts)
