"""The Dask engine: each aggregate is a partial result per partition, computed on the workers
and merged here (a few numbers per column), with a tqdm bar over the partitions.

The cluster is chosen as the pipeline executor chooses it: a ``distributed.Client``, a
scheduler address, or neither (the session's client, else a ``LocalCluster`` kept for this
process).

Exact order statistics by radix selection: a finite float64 maps to a uint64 key in the same
order; four passes each count one 16-bit digit of the keys below the prefix found so far
(``np.bincount`` over 65,536 buckets per partition), so the k-th value is found exactly with
four reads of the column and O(partitions × 65,536) memory.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

import numpy as np

from ..errors import DataSourceError, UnsupportedData
from ._base import DataSource, family_of_pandas, resolve_paths

EXAMPLES = 5
DIGIT = 16
_SIGN = np.uint64(1 << 63)
_local: dict[str, Any] = {}
_lock = threading.Lock()


def client_for(scheduler: Any = None):
    """The Dask client for ``scheduler`` (Client, address or None), as the executor picks it."""
    try:
        import distributed
    except ImportError:
        raise DataSourceError(
            "engine='dask' needs Dask distributed: pip install 'nbmlops[dask]'"
        ) from None
    if isinstance(scheduler, distributed.Client):
        return scheduler
    if scheduler is not None:
        try:
            return distributed.Client(str(scheduler))
        except (OSError, TimeoutError) as exc:
            raise DataSourceError(
                f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS`"
            ) from None
    try:
        return distributed.get_client()
    except ValueError:
        pass
    with _lock:
        if "client" not in _local:
            cluster = distributed.LocalCluster(
                n_workers=os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            _local["cluster"], _local["client"] = cluster, distributed.Client(cluster)
            atexit.register(_close_local)
        return _local["client"]


def _close_local() -> None:
    for name in ("client", "cluster"):
        owned = _local.pop(name, None)
        if owned is not None:
            owned.close()


def read_frame(data: Any, argument: str, workers: int):
    """``data`` as a Dask DataFrame."""
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow.dataset as ds

    if isinstance(data, dd.DataFrame):
        return data
    if isinstance(data, pd.DataFrame):
        return dd.from_pandas(data, npartitions=max(1, min(workers, len(data) // 10_000 + 1)))
    if isinstance(data, (str, os.PathLike)):
        fs, files, fmt = resolve_paths(data, argument)
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        if protocol not in ("file", "local"):
            files = [f"{protocol}://{f}" for f in files]
        return dd.read_parquet(files) if fmt == "parquet" else dd.read_csv(files)
    if isinstance(data, ds.FileSystemDataset) and isinstance(data.format, ds.ParquetFileFormat):
        return dd.read_parquet(list(data.files), filesystem=data.filesystem)
    raise UnsupportedData(argument, data, "dask")


def source(data: Any, argument: str, scheduler: Any, progress: bool) -> DaskSource:
    client = client_for(scheduler)
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    frame = read_frame(data, argument, workers)
    return DaskSource(frame, client, argument, progress)


# -- per-partition work (runs on the workers) --------------------------------------------------


def numbers(series, family: str) -> np.ndarray:
    """A column as float64 (datetimes: seconds since 1970 UTC; missing: NaN)."""
    import pandas as pd

    if family == "datetime":
        values = pd.to_datetime(series, utc=True)
        out = values.dt.tz_localize(None).astype("datetime64[ns]").to_numpy().astype(np.int64)
        return np.where(values.isna().to_numpy(), np.nan, out / 1e9)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _keys(values: np.ndarray) -> np.ndarray:
    bits = values.view(np.uint64)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def _from_key(key: int) -> float:
    k = np.uint64(key)
    bits = k & ~_SIGN if k & _SIGN else ~k
    return float(np.array([bits], dtype=np.uint64).view(np.float64)[0])


def _profile_part(frame, families: dict[str, str]) -> dict:
    out = {"rows": len(frame)}
    for column, family in families.items():
        series = frame[column]
        entry = {"nulls": int(series.isna().sum())}
        if family in ("integer", "float", "datetime"):
            v = numbers(series, family)
            finite = v[np.isfinite(v)]
            entry.update(
                n=len(finite),
                n_inf=int(np.isinf(v).sum()),
                n_neg_inf=int(np.isneginf(v).sum()),
                min=float(finite.min()) if len(finite) else np.nan,
                max=float(finite.max()) if len(finite) else np.nan,
                mean=float(finite.mean()) if len(finite) else 0.0,
                m2=float(((finite - finite.mean()) ** 2).sum()) if len(finite) else 0.0,
            )
        out[column] = entry
    return out


def _finite(frame, column: str, family: str) -> np.ndarray:
    v = numbers(frame[column], family)
    return v[np.isfinite(v)]


def _digits_part(frame, families, wanted: dict[str, list[int]], shift: int) -> dict:
    """Per column: sparse counts of ``(prefix index, next digit)`` over the values whose higher
    digits equal one of the wanted prefixes (one sort-free selection, one ``np.unique``)."""
    out = {}
    for column, prefixes in wanted.items():
        keys = _keys(_finite(frame, column, families[column]))
        digit = ((keys >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.int64)
        if shift + DIGIT >= 64:  # first digit: every value, one dense count
            counts = np.bincount(digit, minlength=1 << DIGIT)
            found = np.flatnonzero(counts)
            out[column] = (found, counts[found])
            continue
        table = np.asarray(prefixes, dtype=np.uint64)
        high = keys >> np.uint64(shift + DIGIT)
        at = np.minimum(np.searchsorted(table, high), len(table) - 1)
        chosen = table[at] == high
        combo = (at[chosen].astype(np.int64) << DIGIT) | digit[chosen]
        out[column] = np.unique(combo, return_counts=True)
    return out


def _bins_part(frame, families, edges: dict[str, np.ndarray]) -> dict:
    out = {}
    for column, e in edges.items():
        at = np.searchsorted(e, _finite(frame, column, families[column]), side="right")
        out[column] = np.bincount(at, minlength=len(e) + 1)
    return out


def _cells_part(frame, families, cells: dict) -> dict:
    out = {}
    for column, (low, width, n) in cells.items():
        v = _finite(frame, column, families[column])
        k = np.clip(np.floor((v - low) / width), 0, n - 1).astype(np.int64)
        out[column] = np.bincount(k, minlength=n)
    return out


def _values_of(frame, column: str, family: str, numeric: bool):
    if numeric:
        v = numbers(frame[column], family)
        return v[np.isfinite(v)]
    series = frame[column].dropna()
    return series.astype(str) if family == "category" else series


def _distinct_part(frame, column, family, numeric, limit) -> list | None:
    import pandas as pd

    unique = pd.unique(_values_of(frame, column, family, numeric))
    return None if len(unique) > limit else list(unique)


def _counts_part(frame, column, family, numeric):
    import pandas as pd

    return pd.Series(_values_of(frame, column, family, numeric)).value_counts(sort=False)


def _outside_part(frame, column, family, low, high) -> tuple[int, list]:
    series = frame[column]
    v = numbers(series, family)
    present = ~series.isna().to_numpy()
    bad = present & ~np.isfinite(v)
    if low is not None:
        bad |= present & (v < low)
    if high is not None:
        bad |= present & (v > high)
    return int(bad.sum()), list(series[bad][:EXAMPLES])


def _not_in_part(frame, column, family, allowed) -> tuple[int, list]:
    import pandas as pd

    series = frame[column].dropna()
    values = series.astype(str) if family in ("string", "category") else series.astype(object)
    bad = ~values.isin(allowed).to_numpy()
    return int(bad.sum()), list(pd.unique(series[bad])[:EXAMPLES])


# -- the source --------------------------------------------------------------------------------


class DaskSource(DataSource):
    engine = "dask"

    def __init__(self, frame, client, label: str, progress: bool):
        columns = [str(c) for c in frame.columns]
        families = {str(c): family_of_pandas(t) for c, t in frame.dtypes.items()}
        super().__init__(label, columns, families, progress)
        self.frame, self.client = frame, client

    def _each(self, function, desc: str, *args, columns: list[str] | None = None) -> list:
        """``function(partition, *args)`` on every partition, on the workers (reading only
        ``columns`` when given)."""
        import dask
        import distributed

        frame = self.frame if columns is None else self.frame[list(columns)]
        parts = frame.to_delayed()
        tasks = [dask.delayed(function, pure=True)(p, *args) for p in parts]
        futures = self.client.compute(tasks)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list = [None] * len(futures)
        done = distributed.as_completed(futures, with_results=True)
        for future, result in self.steps(done, len(futures), desc):
            results[index[future.key]] = result
        return results

    @property
    def num_rows(self) -> int:
        if self._rows is None:
            self._rows = sum(self._each(len, "rows", columns=self.columns[:1]))
        return self._rows

    def profile(self, columns: list[str]) -> dict[str, dict[str, Any]]:
        families = {c: self.families[c] for c in columns}
        parts = self._each(_profile_part, "profile", families, columns=columns)
        self._rows = sum(p["rows"] for p in parts)
        out = {}
        for c in columns:
            entries = [p[c] for p in parts]
            entry: dict[str, Any] = {"nulls": sum(e["nulls"] for e in entries)}
            if "n" in entries[0]:
                n = sum(e["n"] for e in entries)
                # Chan et al.: pooled mean and sum of squared deviations, exact and stable
                mean = sum(e["mean"] * e["n"] for e in entries) / n if n else np.nan
                m2 = sum(e["m2"] + e["n"] * (e["mean"] - mean) ** 2 for e in entries if e["n"])
                present = [e for e in entries if e["n"]]
                entry.update(
                    n=n,
                    n_inf=sum(e["n_inf"] for e in entries),
                    n_neg_inf=sum(e["n_neg_inf"] for e in entries),
                    min=min((e["min"] for e in present), default=np.nan),
                    max=max((e["max"] for e in present), default=np.nan),
                    mean=mean,
                    std=float(np.sqrt(m2 / n)) if n else np.nan,
                )
            out[c] = entry
        return out

    def order_stats(self, ranks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # per wanted rank: [rank left inside the prefix, prefix of the digits found so far]
        state = {c: [[int(k), 0] for k in np.asarray(r, dtype=np.int64)] for c, r in ranks.items()}
        columns = [c for c, s in state.items() if s]
        for level in range(64 // DIGIT):
            shift = 64 - DIGIT * (level + 1)
            wanted = {c: sorted({p for _k, p in state[c]}) for c in columns}
            parts = self._each(
                _digits_part,
                f"exact quantiles {level + 1}/{64 // DIGIT}",
                self.families,
                wanted,
                shift,
                columns=columns,
            )
            for column in columns:
                combos = np.concatenate([p[column][0] for p in parts])
                counts = np.concatenate([p[column][1] for p in parts])
                unique, inverse = np.unique(combos, return_inverse=True)
                totals = np.bincount(inverse, weights=counts).astype(np.int64)
                index = {p: i for i, p in enumerate(wanted[column])}
                for target in state[column]:
                    i = 0 if shift + DIGIT >= 64 else index[target[1]]
                    lo, hi = np.searchsorted(unique >> DIGIT, [i, i + 1])
                    digits, cum = unique[lo:hi] & 0xFFFF, np.cumsum(totals[lo:hi])
                    k = min(target[0], int(cum[-1]) - 1)
                    at = int(np.searchsorted(cum, k, side="right"))
                    target[0] = k - (int(cum[at - 1]) if at else 0)
                    target[1] = (target[1] << DIGIT) | int(digits[at])
        return {c: np.array([_from_key(p) for _k, p in s], dtype=float) for c, s in state.items()}

    def bin_counts(self, edges: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        edges = {c: np.asarray(e, dtype=float) for c, e in edges.items()}
        parts = self._each(_bins_part, "bins", self.families, edges, columns=list(edges))
        return {c: sum(p[c] for p in parts) for c in edges}

    def cell_counts(self, cells: dict[str, tuple[float, float, int]]) -> dict[str, np.ndarray]:
        parts = self._each(_cells_part, "cells", self.families, cells, columns=list(cells))
        return {c: sum(p[c] for p in parts) for c in cells}

    def distinct(self, column: str, limit: int, numeric: bool) -> list | None:
        family = self.families[column]
        parts = self._each(
            _distinct_part, "distinct", column, family, numeric, limit, columns=[column]
        )
        if any(p is None for p in parts):
            return None
        seen: dict = {}
        for p in parts:
            seen.update(dict.fromkeys(p))
        return None if len(seen) > limit else list(seen)

    def value_counts(self, column: str, numeric: bool) -> tuple[list, np.ndarray]:
        import pandas as pd

        family = self.families[column]
        parts = self._each(
            _counts_part, f"value counts of {column}", column, family, numeric, columns=[column]
        )
        parts = [p for p in parts if len(p)]
        if not parts:
            return [], np.array([], dtype=float)
        total = pd.concat(parts).groupby(level=0, sort=False).sum()
        return list(total.index), total.to_numpy(dtype=float)

    def values(self, column: str) -> np.ndarray:
        parts = self._each(_finite, "values", column, self.families[column], columns=[column])
        return np.sort(np.concatenate(parts)) if parts else np.array([])

    def outside(self, column: str, low: float | None, high: float | None) -> tuple[int, list]:
        parts = self._each(
            _outside_part, "range", column, self.families[column], low, high, columns=[column]
        )
        return sum(p[0] for p in parts), [x for p in parts for x in p[1]][:EXAMPLES]

    def not_in(self, column: str, allowed: list) -> tuple[int, list]:
        family = self.families[column]
        text = family in ("string", "category")
        listed = [str(a) for a in allowed] if text else list(allowed)
        parts = self._each(_not_in_part, "allowed values", column, family, listed, columns=[column])
        examples: dict = {}
        for p in parts:
            examples.update(dict.fromkeys(p[1]))
        return sum(p[0] for p in parts), list(examples)[:EXAMPLES]

    def duplicated(self, column: str) -> tuple[int, list]:
        counts = self.frame[column].dropna().value_counts(split_out=self.frame.npartitions)
        repeated = counts[counts > 1].to_delayed()
        futures = self.client.compute(repeated)
        import distributed
        import pandas as pd

        done = distributed.as_completed(futures, with_results=True)
        parts = [r for _f, r in self.steps(done, len(futures), "duplicates")]
        found = pd.concat(parts) if parts else pd.Series([], dtype=float)
        shown = sorted(found.index, key=str)[:EXAMPLES]
        return int(found.sum()), shown
