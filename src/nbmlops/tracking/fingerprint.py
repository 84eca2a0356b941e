"""Fingerprints of data: a content hash plus shape, column names and dtypes.

:func:`fingerprint` hashes everything: two objects with the same digest hold the same values,
index, columns and dtypes. pandas objects are hashed with ``pandas.util.hash_pandas_object``
(vectorized, ~1 s for 10M cells), numpy arrays by their raw bytes.

What a run records (:func:`input_fingerprint`, used by ``%%track`` and ``log_input``) must
not cost a large frame's full hash on every cell, so its rule depends on the size:

- up to ``CACHE_CELLS`` (100,000) cells: the full hash, every time;
- up to ``FULL_HASH_CELLS`` (1,000,000) cells: the full hash, remembered for the object and
  reused while its probe is unchanged (type, shape, columns, dtypes, the identity of the
  arrays holding its values, and ``SAMPLE_ROWS`` evenly spaced rows);
- larger: a *sampled* digest of the shape, columns, dtypes and ``SAMPLE_ROWS`` evenly spaced
  rows (index included), a few milliseconds whatever the size. Its ``sampled_rows`` says so
  (and the run's record carries it in ``info``). Two large frames that differ only outside
  those rows get the same sampled digest; sampled and full digests never coincide.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import sys
import threading
import weakref
from typing import Any

CACHE_CELLS = 100_000
FULL_HASH_CELLS = 1_000_000
SAMPLE_ROWS = 4096


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """What identifies a dataset: its kind, content digest, shape and schema."""

    kind: str
    digest: str
    shape: tuple[int, ...]
    schema: tuple[tuple[str, str], ...] | None = None
    sampled_rows: int | None = None  # set when the digest covers only these many rows

    def as_row(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "digest": self.digest,
            "shape": json.dumps(list(self.shape)),
            "schema": None if self.schema is None else json.dumps([list(c) for c in self.schema]),
        }


def _pandas():
    return sys.modules.get("pandas")


def _numpy():
    return sys.modules.get("numpy")


def is_data(obj: object) -> bool:
    """True for pandas DataFrames and Series and numpy arrays (nothing is imported to check)."""
    pd, np = _pandas(), _numpy()
    if pd is not None and isinstance(obj, (pd.DataFrame, pd.Series)):
        return True
    return np is not None and isinstance(obj, np.ndarray)


def _digest(parts: list[bytes]) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "little"))
        hasher.update(part)
    return hasher.hexdigest()


def _pandas_hash(obj) -> bytes:
    pd = _pandas()
    try:
        return pd.util.hash_pandas_object(obj, index=True).to_numpy().tobytes()
    except TypeError:  # unhashable cells (lists, dicts): fall back to the pickled bytes
        return pickle.dumps(obj, protocol=5)


def fingerprint(obj: object, *, bounded: bool = False) -> Fingerprint | None:
    """Fingerprint a DataFrame, Series or ndarray; ``None`` for anything else.

    ``bounded=True`` gives what a run records (:func:`input_fingerprint`: sampled above
    ``FULL_HASH_CELLS`` cells); the default hashes everything.

    >>> import numpy as np
    >>> fingerprint(np.arange(3)).shape
    (3,)
    """
    if bounded:
        return input_fingerprint(obj)
    pd, np = _pandas(), _numpy()
    if pd is not None and isinstance(obj, pd.DataFrame):
        schema = tuple((str(c), str(t)) for c, t in obj.dtypes.items())
        names = json.dumps([str(c) for c in obj.columns]).encode()
        return Fingerprint(
            "pandas.DataFrame",
            _digest([b"DataFrame", names, repr(schema).encode(), _pandas_hash(obj)]),
            tuple(obj.shape),
            schema,
        )
    if pd is not None and isinstance(obj, pd.Series):
        schema = ((str(obj.name), str(obj.dtype)),)
        return Fingerprint(
            "pandas.Series",
            _digest([b"Series", repr(schema).encode(), _pandas_hash(obj)]),
            tuple(obj.shape),
            schema,
        )
    if np is not None and isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            content = pickle.dumps(obj, protocol=5)
        else:
            content = np.ascontiguousarray(obj).tobytes()
        return Fingerprint(
            "numpy.ndarray",
            _digest([b"ndarray", str(obj.dtype).encode(), repr(obj.shape).encode(), content]),
            tuple(int(n) for n in obj.shape),
            (("values", str(obj.dtype)),),
        )
    return None


def _cells(obj: Any) -> int:
    if hasattr(obj, "size"):
        return int(obj.size)
    return 0


def _sample_positions(n: int):
    np = _numpy()
    return np.unique(np.linspace(0, n - 1, SAMPLE_ROWS).astype(np.int64))


def _header(obj: Any) -> tuple[str, list[bytes], tuple[tuple[str, str], ...] | None]:
    pd = _pandas()
    if pd is not None and isinstance(obj, pd.DataFrame):
        schema = tuple((str(c), str(t)) for c, t in obj.dtypes.items())
        names = json.dumps([str(c) for c in obj.columns]).encode()
        return "pandas.DataFrame", [b"DataFrame", names, repr(schema).encode()], schema
    if pd is not None and isinstance(obj, pd.Series):
        schema = ((str(obj.name), str(obj.dtype)),)
        return "pandas.Series", [b"Series", repr(schema).encode()], schema
    schema = (("values", str(obj.dtype)),)
    return (
        "numpy.ndarray",
        [b"ndarray", str(obj.dtype).encode(), repr(obj.shape).encode()],
        schema,
    )


def sampled_fingerprint(obj: Any) -> Fingerprint:
    """The bounded fingerprint of a large frame, series or array (see the module docstring)."""
    kind, parts, schema = _header(obj)
    n = int(obj.shape[0]) if obj.ndim else 1
    positions = _sample_positions(max(n, 1))
    if kind == "numpy.ndarray":
        rows = obj[positions] if obj.ndim else obj
        content = (
            pickle.dumps(rows, protocol=5)
            if obj.dtype.hasobject
            else _numpy().ascontiguousarray(rows).tobytes()
        )
    else:
        content = _pandas_hash(obj.iloc[positions])
    digest = _digest([b"sampled", repr(tuple(obj.shape)).encode(), *parts, content])
    return Fingerprint(
        kind, digest, tuple(int(n) for n in obj.shape), schema, sampled_rows=len(positions)
    )


def _arrays(obj: Any) -> tuple:
    """Identities of the arrays holding ``obj``'s values (a replaced column changes them)."""
    np = _numpy()
    if np is not None and isinstance(obj, np.ndarray):
        return (obj.__array_interface__["data"][0], obj.strides)
    try:
        mgr = obj._mgr  # pandas' block manager: no public view of the arrays it holds
        return tuple(id(getattr(b, "values", b)) for b in getattr(mgr, "blocks", (mgr,)))
    except AttributeError:
        return ()


def _probe(obj: Any) -> tuple:
    kind, parts, _schema = _header(obj)
    n = int(obj.shape[0]) if obj.ndim else 1
    positions = _sample_positions(max(n, 1))
    if kind == "numpy.ndarray":
        rows = obj[positions] if obj.ndim else obj
        content = pickle.dumps(rows, protocol=5) if obj.dtype.hasobject else rows.tobytes()
    else:
        content = _pandas_hash(obj.iloc[positions])
    return (type(obj), tuple(obj.shape), _arrays(obj), _digest([*parts, content]))


class _Remembered:
    """Full fingerprints of mid-sized objects, per object, while the object lives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[Any, tuple, Fingerprint]] = {}

    def get(self, obj: Any, probe: tuple) -> Fingerprint | None:
        with self._lock:
            entry = self._entries.get(id(obj))
        if entry is None or entry[0]() is not obj or entry[1] != probe:
            return None
        return entry[2]

    def put(self, obj: Any, probe: tuple, fp: Fingerprint) -> None:
        key = id(obj)
        try:
            ref = weakref.ref(obj, lambda _ref, key=key: self._drop(key, _ref))
        except TypeError:
            return  # not weak-referenceable: never remembered
        with self._lock:
            self._entries[key] = (ref, probe, fp)

    def _drop(self, key: int, ref: Any) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is ref:
                del self._entries[key]


_remembered = _Remembered()


def input_fingerprint(obj: object) -> Fingerprint | None:
    """The fingerprint a run records for ``obj``: bounded in time (see the module docstring)."""
    if not is_data(obj):
        return None
    cells = _cells(obj)
    if cells <= CACHE_CELLS:
        return fingerprint(obj)
    if cells > FULL_HASH_CELLS:
        return sampled_fingerprint(obj)
    probe = _probe(obj)
    found = _remembered.get(obj, probe)
    if found is None:
        found = fingerprint(obj)
        _remembered.put(obj, probe, found)
    return found
