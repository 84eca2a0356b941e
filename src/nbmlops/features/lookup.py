"""Online lookups: ``get_online_features`` reads the latest values of entities' features.

The TTL is applied at lookup time: a value whose event time is more than ``ttl`` before now is
returned as null, the same rule the offline join applies at an entity's time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from .. import _args
from ..errors import FeatureError, FeatureNameCollision
from .definition import DTYPES
from .online import OnlineStore, OnlineView

if TYPE_CHECKING:
    from .workspace import FeatureWorkspace

# fullmatch, so a trailing newline is no part of a name; versions are at most 9 ASCII digits.
_REF_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:@([0-9]{1,9}))?:([A-Za-z_][A-Za-z0-9_]*|\*)")


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


def get_online_features(
    fs: FeatureWorkspace, features: Sequence[str] | str, entity_rows: Any, full_feature_names: bool
) -> Any:
    return lookup(fs.online, features, entity_rows, full_feature_names)
