"""Fingerprints of data: a content hash plus shape, column names and dtypes.

Two objects with the same fingerprint digest hold the same values, index, columns and dtypes.
pandas objects are hashed with ``pandas.util.hash_pandas_object`` (vectorized, ~1 s for 10M
cells), numpy arrays by their raw bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import sys
from typing import Any


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """What identifies a dataset: its kind, content digest, shape and schema."""

    kind: str
    digest: str
    shape: tuple[int, ...]
    schema: tuple[tuple[str, str], ...] | None = None

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


def fingerprint(obj: object) -> Fingerprint | None:
    """Fingerprint a DataFrame, Series or ndarray; ``None`` for anything else.

    >>> import numpy as np
    >>> fingerprint(np.arange(3)).shape
    (3,)
    """
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
