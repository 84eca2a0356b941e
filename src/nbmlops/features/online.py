"""The online store: the latest value of every feature per entity, for serving.

``materialize(start, end)`` reads the offline rows with event time in ``[start, end]``, keeps
the newest row per entity (event time, then created time, then write order, as offline) and
writes it online unless the online value is newer. ``materialize_incremental(end)`` continues
from the previous materialization: rows with event time after its end, plus rows written since
(late data), up to ``end``. The online store holds one version per view: materializing a new
version replaces the old one's values.

``get_online_features`` applies the TTL at lookup time: a value whose event time is more than
``ttl`` before now is returned as null, the same rule the offline join applies at an entity's
time. Backends: SQLite (default, one file, ``online_sqlite``) and Redis (``online_redis``).
"""

from __future__ import annotations

import abc
import datetime as dt
import json
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import _args
from ..errors import FeatureError, FeatureNameCollision, OnlineStoreError
from . import _duck
from .definition import DTYPES, FeatureView
from .offline import SEQ
from .schema import to_utc_naive

if TYPE_CHECKING:
    from .store import FeatureStore

TS, CREATED = "__ts", "__created"
# fullmatch, so a trailing newline is no part of a name; versions are at most 9 ASCII digits.
_REF_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:@([0-9]{1,9}))?:([A-Za-z_][A-Za-z0-9_]*|\*)")


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


class OnlineView(NamedTuple):
    """What the online store knows of the view version it holds."""

    name: str
    version: int
    digest: str
    join_keys: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]  # (name, dtype)
    ttl: float | None

    @classmethod
    def of(cls, view: FeatureView) -> OnlineView:
        assert view.version is not None
        return cls(
            view.name,
            view.version,
            view.digest,
            tuple(view.join_keys),
            tuple((f.name, f.dtype) for f in view.fields),
            view.ttl,
        )

    def to_json(self) -> str:
        return json.dumps(self._asdict())

    @classmethod
    def from_json(cls, text: str | bytes) -> OnlineView:
        doc = json.loads(text)
        return cls(
            doc["name"],
            int(doc["version"]),
            doc["digest"],
            tuple(doc["join_keys"]),
            tuple(tuple(f) for f in doc["fields"]),  # type: ignore[misc]
            doc["ttl"],
        )


class OnlineStore(abc.ABC):
    """A key-value store of the newest feature row per (view, entity key).

    Rows read back are tuples ``(event_time_us, value, …)`` in field order; booleans may come
    back as 0/1 and datetimes as microseconds since the epoch (see :func:`decoders`).
    """

    url: str

    @abc.abstractmethod
    def views(self) -> dict[str, OnlineView]:
        """The views held, by name (freshly read)."""

    @abc.abstractmethod
    def write(self, view: OnlineView, table: pa.Table) -> int:
        """Upsert rows (join keys, ``__ts``, ``__created``, ``__seq``, fields) of ``view``,
        keeping a stored row that is newer; switch to ``view``'s version first if needed.
        Return the number of rows written."""

    @abc.abstractmethod
    def lookup(self, name: str, keys: list[tuple]) -> tuple[OnlineView, list[tuple | None]]:
        """The stored row (or None) for each key of view ``name``."""

    def lookup_one(self, name: str, key: tuple) -> tuple[OnlineView, tuple | None]:
        view, rows = self.lookup(name, [key])
        return view, rows[0]

    @abc.abstractmethod
    def drop(self, name: str) -> None:
        """Forget view ``name`` and its values."""

    def close(self) -> None:  # noqa: B027 - optional for backends
        """Release connections."""

    _view_cache: dict[str, OnlineView]

    def cached_view(self, name: str) -> OnlineView:
        """The view ``name`` as last read (read again when unknown); raise if not held."""
        view = self._view_cache.get(name)
        if view is None:
            view = self.views().get(name)
            if view is None:
                raise self._missing(name)
        return view

    def _missing(self, name: str) -> OnlineStoreError:
        return OnlineStoreError(
            f"the online store {safe_url(self.url)} holds no values of feature view {name!r}; "
            "load them with nbmlops.features.materialize() (or `nbmlops features materialize`)"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({safe_url(self.url)!r})"


def open_online_store(url: str) -> OnlineStore:
    """The online store at ``url``: ``sqlite:///path/online.db`` or ``redis://host:port/db``."""
    if url.startswith("sqlite:"):
        from .online_sqlite import SQLiteOnlineStore

        return SQLiteOnlineStore(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .online_redis import RedisOnlineStore

        return RedisOnlineStore(url)
    raise OnlineStoreError(
        f"unknown online store URL {safe_url(url)!r}; use sqlite:////abs/path/online.db or "
        "redis://host:6379/0"
    )


# -- values -------------------------------------------------------------------------------------


def norm_key(value: Any) -> Any:
    """A join key value as stored: Python int or str (numpy scalars converted)."""
    kind = type(value)
    if kind is int or kind is str:
        return value
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise FeatureError(f"join key values are integers or strings, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    if isinstance(value, str):
        return str(value)
    raise FeatureError(f"join key values are integers or strings, got {value!r}")


def _to_bool(v: Any) -> Any:
    return None if v is None else bool(v)


def _to_datetime(v: Any) -> Any:
    return None if v is None else pd.Timestamp(v, unit="us")


def decoders(view: OnlineView) -> list:
    """Per field: a function turning a stored value into its Python value (None = as is)."""
    out = []
    for _name, dtype in view.fields:
        kind = DTYPES[dtype][0]
        out.append(_to_bool if kind == "bool" else _to_datetime if kind == "datetime" else None)
    return out


# -- lookups ------------------------------------------------------------------------------------


class _Plan(NamedTuple):
    # per view: (view name, pinned version, requested fields, output columns)
    views: tuple[tuple[str, int | None, tuple[str, ...], tuple[str, ...]], ...]
    columns: tuple[str, ...]


_plans: dict[tuple, _Plan] = {}
# (view name, version, fields) -> (indices into the stored row, decoders, ttl in µs or None)
_layouts: dict[tuple, tuple[tuple[int, ...], tuple, int | None]] = {}


def _plan(features: Sequence[str] | str, full: bool) -> _Plan:
    features = _args.strings(features, "get_online_features(features=...)")
    full = _args.flag(full, "get_online_features(full_feature_names=...)")
    key = (tuple(features), full)
    plan = _plans.get(key)
    if plan is not None:
        return plan
    refs = [features] if isinstance(features, str) else list(features)
    if not refs:
        raise FeatureError("no features requested; pass references like ['view:field', …]")
    grouped: dict[str, tuple[int | None, list[str]]] = {}
    for ref in refs:
        match = _REF_RE.fullmatch(ref) if isinstance(ref, str) else None
        if match is None:
            raise FeatureError(
                f"feature reference {ref!r} is not of the form 'view:field' (or 'view:*')"
            )
        name, version, field = match.groups()
        pinned, fields = grouped.setdefault(name, (None if version is None else int(version), []))
        if version is not None and pinned != int(version):
            raise FeatureError(f"features of two versions of view {name!r} were requested")
        if field not in fields:
            fields.append(field)
    views = []
    owners: dict[str, list[str]] = {}
    for name, (pinned, fields) in grouped.items():
        cols = tuple(f"{name}__{f}" if full else f for f in fields)
        views.append((name, pinned, tuple(fields), cols))
        for f, c in zip(fields, cols, strict=True):
            owners.setdefault(c, []).append(f"{name}:{f}")
    if "*" not in {f for _n, _p, fs, _c in views for f in fs}:
        clashes = {c: r for c, r in owners.items() if len(r) > 1}
        if clashes:
            raise FeatureNameCollision(clashes)
    plan = _Plan(tuple(views), tuple(owners))
    if len(_plans) > 1000:
        _plans.clear()
    _plans[key] = plan
    return plan


def _layout(view: OnlineView, pinned: int | None, fields: tuple[str, ...]):
    key = (view.name, view.version, view.digest, fields)
    layout = _layouts.get(key)
    if layout is not None:
        if pinned is not None and pinned != view.version:
            raise _version_error(view, pinned)
        return layout
    if pinned is not None and pinned != view.version:
        raise _version_error(view, pinned)
    names = [n for n, _d in view.fields]
    wanted = names if fields == ("*",) else list(fields)
    indices = []
    for f in wanted:
        if f not in names:
            raise FeatureError(
                f"feature view {view.name!r} (v{view.version} online) has no field {f!r}; its "
                f"fields are {', '.join(names)}"
            )
        indices.append(names.index(f) + 1)
    decode = decoders(view)
    ttl_us = None if view.ttl is None else int(round(view.ttl * 1_000_000))
    layout = (tuple(indices), tuple(decode[i - 1] for i in indices), ttl_us)
    _layouts[key] = layout
    return layout


def _version_error(view: OnlineView, pinned: int) -> FeatureError:
    return FeatureError(
        f"the online store holds version {view.version} of view {view.name!r}, not {pinned}; "
        f"materialize version {pinned} or ask for '{view.name}:field'"
    )


def _columns_of(view: OnlineView, fields: tuple[str, ...], cols: tuple[str, ...], full: bool):
    if fields == ("*",):
        names = [n for n, _d in view.fields]
        return [f"{view.name}__{n}" if full else n for n in names]
    return list(cols)


def lookup(
    online: OnlineStore,
    features: Sequence[str] | str,
    entity_rows: Any,
    full_feature_names: bool = False,
    now_us: int | None = None,
) -> Any:
    """The online values for ``entity_rows`` (dict → dict, list of dicts → dict of lists,
    DataFrame → DataFrame); a value older than its view's TTL at ``now_us`` is null."""
    plan = _plan(features, full_feature_names)
    now = time.time_ns() // 1000 if now_us is None else now_us
    if isinstance(entity_rows, dict):
        out = dict(entity_rows)
        for name, pinned, fields, cols in plan.views:
            view, row = _one(online, name, entity_rows)
            indices, decode, ttl = _layout(view, pinned, fields)
            names = _columns_of(view, fields, cols, full_feature_names)
            if row is None or (ttl is not None and row[0] < now - ttl):
                for col in names:
                    out[col] = None
            else:
                for col, i, dec in zip(names, indices, decode, strict=True):
                    out[col] = row[i] if dec is None else dec(row[i])
        return out
    if isinstance(entity_rows, pd.DataFrame):
        frame = entity_rows
        n = len(frame)

        def key_values(keys):
            missing = [k for k in keys if k not in frame.columns]
            if missing:
                raise FeatureError(f"entity rows lack join keys {missing}")
            return list(zip(*(map(norm_key, frame[k].tolist()) for k in keys), strict=True))

    elif isinstance(entity_rows, (list, tuple)):
        if not all(isinstance(r, dict) for r in entity_rows):
            raise FeatureError("entity_rows must be a dict, a list of dicts or a DataFrame")
        n = len(entity_rows)

        def key_values(keys):
            try:
                return [tuple(norm_key(r[k]) for k in keys) for r in entity_rows]
            except KeyError as exc:
                raise FeatureError(f"an entity row lacks join key {exc.args[0]!r}") from None

    else:
        raise FeatureError(
            f"entity_rows must be a dict, a list of dicts or a DataFrame, not "
            f"{type(entity_rows).__name__}"
        )
    columns: dict[str, tuple[list, str]] = {}
    for name, pinned, fields, cols in plan.views:
        view = online.cached_view(name)
        keys = key_values(view.join_keys) if n else []
        view, stored = online.lookup(name, keys)
        indices, decode, ttl = _layout(view, pinned, fields)
        names = _columns_of(view, fields, cols, full_feature_names)
        if ttl is not None:
            limit = now - ttl
            stored = [r if r is not None and r[0] >= limit else None for r in stored]
        dtypes = [DTYPES[view.fields[i - 1][1]][1] for i in indices]
        for col, i, dec, dtype in zip(names, indices, decode, dtypes, strict=True):
            if dec is None:
                values = [None if r is None else r[i] for r in stored]
            else:
                values = [None if r is None else dec(r[i]) for r in stored]
            columns[col] = (values, dtype)
    if isinstance(entity_rows, pd.DataFrame):
        result = entity_rows.copy()
        for col, (values, dtype) in columns.items():
            result[col] = _array(values, dtype)
        return result
    out: dict[str, list] = {}
    for row in entity_rows:
        for key in row:
            out.setdefault(str(key), [])
    for key in out:
        out[key] = [r.get(key) for r in entity_rows]
    for col, (values, _dtype) in columns.items():
        out[col] = values
    return out


def _array(values: list, dtype: str):
    """A list of Python values (None = null) as the pandas array of a field's dtype."""
    if dtype.startswith("float"):
        return np.array([np.nan if v is None else v for v in values], dtype=dtype)
    if dtype.startswith("datetime"):
        return pd.array(values, dtype="datetime64[ns]").astype(dtype)
    return pd.array(values, dtype=dtype)


def _one(online: OnlineStore, name: str, entity_row: dict):
    keys = online.cached_view(name).join_keys
    for _attempt in range(2):
        try:
            key = tuple(norm_key(entity_row[k]) for k in keys)
        except KeyError as exc:
            raise FeatureError(
                f"entity row {entity_row!r} lacks join key {exc.args[0]!r} of view {name!r}"
            ) from None
        view, row = online.lookup_one(name, key)
        if view.join_keys == keys:
            break
        keys = view.join_keys  # the view changed version since it was cached
    return view, row


# -- materialization ----------------------------------------------------------------------------


def _micros(value: Any, what: str) -> int | None:
    if value is None:
        return None
    stamp = to_utc_naive(pd.Series([value])).iloc[0]
    if pd.isna(stamp):
        raise FeatureError(f"{what} {value!r} is not a timestamp")
    return int(pd.Timestamp(stamp).value // 1000)


def _views(fs: FeatureStore, views: Sequence[FeatureView | str] | None) -> list[FeatureView]:
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
    fs: FeatureStore, view: FeatureView, writes: list[dict], end_us: int, where: str
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
    fs: FeatureStore, view: FeatureView, start_us: int | None, end_us: int, since: dict | None
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
    fs: FeatureStore,
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
    fs: FeatureStore,
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


def get_online_features(
    fs: FeatureStore, features: Sequence[str] | str, entity_rows: Any, full_feature_names: bool
) -> Any:
    return lookup(fs.online, features, entity_rows, full_feature_names)
