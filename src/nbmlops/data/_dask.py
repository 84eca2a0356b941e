"""The Dask engine: each aggregate is a partial result per partition, computed on the workers
and merged here (a few numbers per column), with a tqdm bar over the partitions.

The cluster is chosen as the pipeline executor chooses it: a ``distributed.Client``, a
scheduler address, or neither (the session's client, else a ``LocalCluster`` kept for this
process).

Exact order statistics by radix selection: a finite float64 maps to a uint64 key in the same
order; each pass counts the next digit of the keys under every prefix found so far
(``np.bincount`` per partition), so the k-th value is found exactly in four to six reads of
the column. A digit has 16 bits, fewer when many ranks are wanted, so that a column's counts
fit in ``BUCKETS``; they are added up here as partitions finish, so the memory does not grow
with the number of partitions (keeping every partition's counts took gigabytes at 10M rows).
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import DataSourceError, UnsupportedData
from ._base import DataSource, family_of_pandas, resolve_paths, row_group_runs

EXAMPLES = 5
DIGIT = 16  # bits of the widest radix digit
BUCKETS = 1 << 20  # counts per column and pass, at most
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


def read_frame(data: Any, argument: str, workers: int, piece_rows: int | None = None):
    """``data`` as a Dask DataFrame (Parquet in partitions of at most ``piece_rows`` rows,
    default ``PIECE_ROWS``, see ``parquet_frame``)."""
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow.dataset as ds

    if isinstance(data, dd.DataFrame):
        return data
    if isinstance(data, pd.DataFrame):
        return dd.from_pandas(data, npartitions=max(1, min(workers, len(data) // 10_000 + 1)))
    if isinstance(data, (str, os.PathLike)):
        fs, files, fmt = resolve_paths(data, argument)
        if fmt == "parquet":
            return parquet_frame(fs, files, piece_rows)
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        if protocol not in ("file", "local"):
            files = [f"{protocol}://{f}" for f in files]
        return dd.read_csv(files)
    if isinstance(data, ds.FileSystemDataset) and isinstance(data.format, ds.ParquetFileFormat):
        return parquet_frame(data.filesystem, list(data.files), piece_rows)
    raise UnsupportedData(argument, data, "dask")


# Rows per partition read from Parquet: whole row groups, up to this many rows together.
PIECE_ROWS = 1_000_000


class ParquetPieces:
    """Reads one piece of a Parquet dataset (a file's run of row groups) as pandas.

    Dask pushes column selections into it (``columns`` / ``project_columns``). Unlike
    ``dd.read_parquet`` it never fuses pieces: that reader joins ``1 / (share of columns
    read)`` files into one partition, so a pass over one of 20 columns read 20 files per
    task, and the radix passes' working copies of that column took 1 GiB workers past their
    budget.
    """

    def __init__(self, filesystem: Any, columns: list[str] | None = None):
        self.filesystem, self._columns = filesystem, columns

    @property
    def columns(self) -> list[str] | None:
        return self._columns

    def project_columns(self, columns: list[str]) -> ParquetPieces:
        return ParquetPieces(self.filesystem, list(columns))

    def __call__(self, piece: tuple[str, tuple[int, ...], int, int]):
        """Rows of ``(path, row groups, j, m)``: the groups, or the j-th of m slices of one."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path, groups, j, m = piece
        with _open(self.filesystem, path) as fh:
            file = pq.ParquetFile(fh)
            options = {"columns": self._columns, "use_pandas_metadata": True}
            if m == 1:
                return _to_pandas(file.read_row_groups(list(groups), **options))
            # a slice of one large group: batches up to the wanted one are decoded and
            # dropped (on average (m + 1) / 2 reads of the group), one batch held at a time
            rows = file.metadata.row_group(groups[0]).num_rows
            size = -(-rows // m)
            batches = file.iter_batches(batch_size=size, row_groups=list(groups), **options)
            for i, batch in enumerate(batches):
                if i == j:
                    return _to_pandas(pa.Table.from_batches([batch]))
            schema = file.schema_arrow
            if self._columns is not None:
                schema = pa.schema([schema.field(c) for c in self._columns])
            return _to_pandas(schema.empty_table())


def _open(filesystem: Any, path: str):
    if hasattr(filesystem, "open_input_file"):  # a pyarrow filesystem
        return filesystem.open_input_file(path)
    return filesystem.open(path, "rb")


def _to_pandas(table):
    import pandas as pd
    import pyarrow as pa

    if int(pd.__version__.split(".")[0]) >= 3:
        return table.to_pandas()
    # as dd.read_parquet gives them on pandas 2: text as pyarrow strings
    text = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow")}
    return table.to_pandas(types_mapper=text.get)


def parquet_frame(filesystem: Any, files: list[str], piece_rows: int | None = None):
    """A Dask DataFrame of Parquet ``files``: one partition per run of whole row groups of at
    most ``piece_rows`` rows (default ``PIECE_ROWS``); a larger row group is cut in equal
    slices of at most that many rows."""
    import dask.dataframe as dd
    import pyarrow.parquet as pq

    limit = piece_rows or PIECE_ROWS
    pieces: list[tuple[str, tuple[int, ...], int, int]] = []
    schema = None
    for path in files:
        with _open(filesystem, path) as fh:
            meta = pq.ParquetFile(fh).metadata
        schema = schema or meta.schema.to_arrow_schema()
        for run in row_group_runs(meta, limit):
            n = sum(meta.row_group(g).num_rows for g in run)
            m = max(1, -(-n // limit)) if len(run) == 1 else 1  # one large group: m slices
            pieces += [(path, tuple(run), j, m) for j in range(m)]
        if not meta.num_row_groups:  # an empty file: one empty piece
            pieces.append((path, (), 0, 1))
    empty = _to_pandas(schema.empty_table())
    return dd.from_map(ParquetPieces(filesystem), pieces, meta=empty, label="read-parquet")


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


def _digits_part(frame, families, wanted: dict[str, list[int]], shift: int, bits: int) -> dict:
    """Per column: counts of ``(prefix index, next digit of `bits` bits)`` over the values
    whose higher bits equal one of the wanted prefixes, as ``(buckets, counts)`` of the
    non-empty buckets (bucket = prefix index << bits | digit)."""
    out = {}
    for column, prefixes in wanted.items():
        keys = _keys(_finite(frame, column, families[column]))
        digit = ((keys >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.int64)
        if shift + bits >= 64:  # first digit: every value
            bucket = digit
        else:
            table = np.asarray(prefixes, dtype=np.uint64)
            high = keys >> np.uint64(shift + bits)
            at = np.minimum(np.searchsorted(table, high), len(table) - 1)
            chosen = table[at] == high
            bucket = (at[chosen].astype(np.int64) << bits) | digit[chosen]
        counts = np.bincount(bucket, minlength=len(prefixes) << bits)
        found = np.flatnonzero(counts)
        out[column] = (found, counts[found])
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

    def _each(
        self,
        function,
        desc: str,
        *args,
        columns: list[str] | None = None,
        each_result: Callable[[Any], None] | None = None,
    ) -> list:
        """``function(partition, *args)`` on every partition, on the workers (reading only
        ``columns`` when given): the results in partition order, or, with ``each_result``,
        each handed to it as it arrives and not kept."""
        import distributed
        import pandas as pd

        frame = self.frame if columns is None else self.frame[list(columns)]
        # map_partitions fuses the read into the function's task: a partition lives only
        # while it is summarised. Delayed calls on `to_delayed()` parts made each partition a
        # task result of its own, kept (and sent between workers) until used; 1M-row
        # partitions of 20 columns then took 1 GiB workers past their budget.
        tasks = frame.map_partitions(
            function,
            *args,
            meta=pd.Series([], dtype=object),
            enforce_metadata=False,
            align_dataframes=False,
        ).to_delayed()
        futures = self.client.compute(tasks)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list = [None] * len(futures)
        done = distributed.as_completed(futures, with_results=True)
        for future, result in self.steps(done, len(futures), desc):
            if each_result is None:
                results[index[future.key]] = result
            else:
                each_result(result)
            future.release()
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
        # per wanted rank: [rank left inside the prefix, prefix of the bits found so far]
        state = {c: [[int(k), 0] for k in np.asarray(r, dtype=np.int64)] for c, r in ranks.items()}
        columns = [c for c, s in state.items() if s]
        found_bits, level = 0, 0
        while columns and found_bits < 64:
            wanted = {c: sorted({p for _k, p in state[c]}) for c in columns}
            # a digit as wide as keeps every column's counts within BUCKETS (merged here as
            # the partitions finish: memory does not grow with the number of partitions)
            widest = max(len(w) for w in wanted.values())
            bits = min(DIGIT, 64 - found_bits, max(1, (BUCKETS // widest).bit_length() - 1))
            shift = 64 - found_bits - bits
            totals = {c: np.zeros(len(wanted[c]) << bits, dtype=np.int64) for c in columns}

            def add(part: dict, totals=totals) -> None:
                for column, (buckets, counts) in part.items():
                    totals[column][buckets] += counts

            level += 1
            self._each(
                _digits_part,
                f"exact quantiles, pass {level}",
                self.families,
                wanted,
                shift,
                bits,
                columns=columns,
                each_result=add,
            )
            for column in columns:
                index = {p: i for i, p in enumerate(wanted[column])}
                for target in state[column]:
                    i = index[target[1]]
                    cum = np.cumsum(totals[column][i << bits : (i + 1) << bits])
                    k = min(target[0], int(cum[-1]) - 1)
                    at = int(np.searchsorted(cum, k, side="right"))
                    target[0] = k - (int(cum[at - 1]) if at else 0)
                    target[1] = (target[1] << bits) | at
            found_bits += bits
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
