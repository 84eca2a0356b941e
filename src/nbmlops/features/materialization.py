"""Materialization: the newest offline value of every entity, loaded into the online store.

``materialize(start, end)`` reads the offline rows with event time in ``[start, end]``, keeps
the newest row per entity (event time, then created time, then write order, as offline) and
writes it online unless the online value is newer. ``materialize_incremental(end)`` continues
from the previous materialization: rows with event time after its end, plus rows written since
(late data), up to ``end``. The online store holds one version per view: materializing a new
version replaces the old one's values.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from ..errors import FeatureError
from . import _duck
from .definition import FeatureView
from .offline import SEQ
from .online import CREATED, TS, OnlineView, safe_url
from .schema import to_utc_naive

if TYPE_CHECKING:
    from .workspace import FeatureWorkspace


def _micros(value: Any, what: str) -> int | None:
    if value is None:
        return None
    stamp = to_utc_naive(pd.Series([value])).iloc[0]
    if pd.isna(stamp):
        raise FeatureError(f"{what} {value!r} is not a timestamp")
    return int(pd.Timestamp(stamp).value // 1000)


def _views(fs: FeatureWorkspace, views: Sequence[FeatureView | str] | None) -> list[FeatureView]:
    from . import registry

    if views is None:
        chosen = [registry.get_view(fs, r["name"]) for r in fs.records.views()]
        return [v for v in chosen if v.online]
    if isinstance(views, (str, FeatureView)):
        views = [views]
    out = []
    for view in views:
        if isinstance(view, FeatureView) and view.version is None:
            registry.apply(fs, [view])
        out.append(registry.get_view(fs, view))
    return out


def _latest_rows(
    fs: FeatureWorkspace, view: FeatureView, writes: list[dict], end_us: int, where: str
) -> pa.Table:
    keys = ", ".join(_duck.quote(k) for k in view.join_keys)
    ts = _duck.quote(view.timestamp)
    created = (
        f"epoch_us({_duck.quote(view.created_timestamp)})"
        if view.created_timestamp
        else "NULL::BIGINT"
    )
    order = f"{ts} DESC" + (
        f", {_duck.quote(view.created_timestamp)} DESC NULLS LAST" if view.created_timestamp else ""
    )
    fields = ", ".join(
        f"epoch_us({_duck.quote(f.name)}) AS {_duck.quote(f.name)}"
        if f.kind == "datetime"
        else _duck.quote(f.name)
        for f in view.fields
    )
    con = _duck.connect()
    try:
        source = fs.offline.sql_source(con, [w["path"] for w in writes])
        sql = (
            f"SELECT {keys}, epoch_us({ts}) AS {TS}, {created} AS {CREATED}, {SEQ}, {fields} "
            f"FROM {source} WHERE epoch_us({ts}) <= {end_us} {where} "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {order}, {SEQ} DESC) = 1"
        )
        return _duck.arrow(con, sql)
    finally:
        con.close()


def _materialize_view(
    fs: FeatureWorkspace, view: FeatureView, start_us: int | None, end_us: int, since: dict | None
) -> dict:
    writes = fs.records.writes(view.name, view.version)
    max_write_id = max((w["write_id"] for w in writes), default=0)
    if since is None:
        where = (
            "" if start_us is None else f"AND epoch_us({_duck.quote(view.timestamp)}) >= {start_us}"
        )
        chosen = [
            w
            for w in writes
            if start_us is None or (w["max_event_time"] or 0) * 1e6 >= start_us - 1
        ]
    else:
        prev_end = int(round(since["end_time"] * 1_000_000))
        prev_write = int(since["max_write_id"])
        where = (
            f"AND (epoch_us({_duck.quote(view.timestamp)}) > {prev_end} "
            f"OR {SEQ} >= {(prev_write + 1) << 32})"
        )
        chosen = [
            w
            for w in writes
            if w["write_id"] > prev_write or (w["max_event_time"] or 0) * 1e6 > prev_end - 1
        ]
    if chosen:
        table = _latest_rows(fs, view, chosen, end_us, where)
    else:
        table = None
    online_view = OnlineView.of(view)
    if table is None:
        schema = pa.schema(
            [(k, pa.int64()) for k in view.join_keys]
            + [(TS, pa.int64()), (CREATED, pa.int64()), (SEQ, pa.int64())]
        )
        table = schema.empty_table()
    written = fs.online.write(online_view, table)
    fs.records.add_materialization(
        {
            "name": view.name,
            "version": view.version,
            "online_store": safe_url(fs.online_url),
            "start_time": None if start_us is None else start_us / 1e6,
            "end_time": end_us / 1e6,
            "max_write_id": max_write_id,
            "rows": written,
        }
    )
    return {
        "view": view.name,
        "version": view.version,
        "rows": written,
        "start": None if start_us is None else pd.Timestamp(start_us, unit="us"),
        "end": pd.Timestamp(end_us, unit="us"),
    }


def _now_us() -> int:
    return time.time_ns() // 1000


def materialize(
    fs: FeatureWorkspace,
    start: dt.datetime | str | None = None,
    end: dt.datetime | str | None = None,
    views: Sequence[FeatureView | str] | None = None,
) -> pd.DataFrame:
    """Load the newest offline row per entity with event time in ``[start, end]`` online.

    ``start=None`` has no lower bound; ``end=None`` is now. Returns one row per view.
    """
    start_us = _micros(start, "start")
    end_us = _micros(end, "end") if end is not None else _now_us()
    if start_us is not None and start_us > end_us:
        raise FeatureError(f"materialize: start {start!r} is after end {end!r}")
    done = [_materialize_view(fs, v, start_us, end_us, None) for v in _views(fs, views)]
    return pd.DataFrame(done, columns=["view", "version", "rows", "start", "end"])


def materialize_incremental(
    fs: FeatureWorkspace,
    end: dt.datetime | str | None = None,
    views: Sequence[FeatureView | str] | None = None,
) -> pd.DataFrame:
    """Materialize from where the previous materialization (of the same view version into
    the same online store) stopped up to ``end`` (default now), including rows written since
    with earlier event times. A view never materialized is materialized in full."""
    end_us = _micros(end, "end") if end is not None else _now_us()
    done = []
    url = safe_url(fs.online_url)
    for view in _views(fs, views):
        previous = [
            m for m in fs.records.materializations(view.name, url) if m["version"] == view.version
        ]
        held = fs.online.views().get(view.name)
        since = (
            previous[-1] if previous and held is not None and held.version == view.version else None
        )
        done.append(_materialize_view(fs, view, None, end_us, since))
    return pd.DataFrame(done, columns=["view", "version", "rows", "start", "end"])
