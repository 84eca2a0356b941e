"""What every engine's source is: :class:`DataSource` (the aggregates monitoring and the
feature store ask for), plus the helpers both engines share (dtype families, path listing).

Numeric columns are aggregated as float64 (datetimes as seconds since 1970-01-01 UTC), over
their finite values, as the in-memory drift statistics do.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ..errors import DataSourceError

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".csv.gz": "csv"}
NUMERIC_FAMILIES = ("integer", "float", "datetime")


class DataSource:
    """Data the engine reads on demand. Subclasses implement the aggregates below."""

    engine = ""
    #: "exact" or "approximate": how :meth:`order_stats` computes (both engines: exact)
    quantiles = "exact"

    def __init__(self, label: str, columns: list[str], families: dict[str, str], progress):
        self.label = label
        self.columns = columns
        self.families = families
        self.progress = progress
        self._rows: int | None = None

    def __repr__(self) -> str:
        return f"<DataSource {self.engine}: {self.label}, {len(self.columns)} columns>"

    # -- what every engine answers ---------------------------------------------------------

    @property
    def num_rows(self) -> int:
        raise NotImplementedError

    def profile(self, columns: list[str]) -> dict[str, dict[str, Any]]:
        """Per column: ``nulls`` (null or NaN), and for numeric/datetime columns ``n`` (finite
        values), ``n_inf`` (infinities), ``n_neg_inf`` (of them negative), ``min``, ``max``, ``mean``, ``std`` (population) of the finite
        values."""
        raise NotImplementedError

    def order_stats(self, ranks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The finite values of each column at the given 0-based ranks of their sorted order."""
        raise NotImplementedError

    def bin_counts(self, edges: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Counts of finite values in ``(-inf, e0), [e0, e1), … [e_last, inf)`` per column
        (edges sorted, unique)."""
        raise NotImplementedError

    def cell_counts(self, cells: dict[str, tuple[float, float, int]]) -> dict[str, np.ndarray]:
        """Counts of finite values per equal cell: ``(low, width, n)`` puts ``x`` in cell
        ``clip(floor((x - low) / width), 0, n - 1)`` (the same float arithmetic on every
        engine)."""
        raise NotImplementedError

    def distinct(self, column: str, limit: int, numeric: bool) -> list | None:
        """The distinct non-null values (finite numbers if ``numeric``), or ``None`` when
        there are more than ``limit``."""
        raise NotImplementedError

    def value_counts(self, column: str, numeric: bool) -> tuple[list, np.ndarray]:
        """``(values, counts)`` of the non-null values (finite numbers if ``numeric``)."""
        raise NotImplementedError

    def values(self, column: str) -> np.ndarray:
        """The finite values of a numeric column, sorted (callers make sure they are few)."""
        raise NotImplementedError

    def outside(self, column: str, low: float | None, high: float | None) -> tuple[int, list]:
        """``(count, examples)`` of non-null values outside ``[low, high]`` (numbers)."""
        raise NotImplementedError

    def not_in(self, column: str, allowed: list) -> tuple[int, list]:
        """``(count, examples)`` of non-null values not in ``allowed``."""
        raise NotImplementedError

    def duplicated(self, column: str) -> tuple[int, list]:
        """``(rows whose non-null value occurs more than once, examples of such values)``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what this source opened (a DuckDB connection)."""

    # -- helpers ---------------------------------------------------------------------------

    def steps(self, items: Iterable, total: int, desc: str) -> Iterator:
        """``items`` with a tqdm bar (one bar per pass over the data) when progress is on."""
        if not self.progress:
            yield from items
            return
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"{desc} ({self.engine})", unit="step", leave=False)
        try:
            for item in items:
                yield item
                bar.update(1)
        finally:
            bar.close()


def family_of_pandas(dtype: Any) -> str:
    """``integer``, ``float``, ``bool``, ``category``, ``string`` or ``datetime``."""
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "string"


def _format_of(path: str) -> str | None:
    lowered = path.lower()
    return next((fmt for suffix, fmt in FORMATS.items() if lowered.endswith(suffix)), None)


def resolve_paths(url: str | os.PathLike, argument: str) -> tuple[Any, list[str], str]:
    """``(filesystem, files, format)`` of a file, folder or glob (local path or fsspec URL)."""
    import fsspec

    url = os.fspath(url)
    try:
        fs, _token, paths = fsspec.get_fs_token_paths(url)
    except (ValueError, ImportError) as exc:
        raise DataSourceError(f"{argument}: cannot open {url!r}: {exc}") from None
    files: list[str] = []
    for path in paths:
        if fs.isdir(path):
            files += sorted(p for p in fs.find(path) if _format_of(p))
        elif fs.exists(path):
            files.append(path)
    if not files:
        raise DataSourceError(
            f"{argument}: no Parquet or CSV file at {url!r}; give a file, a folder of "
            "*.parquet/*.csv files or a glob such as 'data/*.parquet'"
        )
    formats = {_format_of(p) for p in files}
    if None in formats or len(formats) > 1:
        raise DataSourceError(
            f"{argument}: {url!r} holds {', '.join(sorted(map(str, formats)))} files; give "
            "Parquet (.parquet, .pq) or CSV (.csv) files of one format"
        )
    return fs, files, formats.pop()


def row_group_runs(metadata: Any, max_rows: int) -> list[list[int]]:
    """A Parquet file's row groups (``metadata``: pyarrow's ``FileMetaData``) in runs of at
    most ``max_rows`` rows; a larger group forms a run of its own."""
    runs: list[list[int]] = []
    run: list[int] = []
    size = 0
    for i in range(metadata.num_row_groups):
        n = metadata.row_group(i).num_rows
        if run and size + n > max_rows:
            runs.append(run)
            run, size = [], 0
        run.append(i)
        size += n
    if run:
        runs.append(run)
    return runs
