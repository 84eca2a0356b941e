"""The offline store: feature rows as Parquet files under the workspace or any fsspec URL, and
how they are stored and read back as pandas (writing and reading them is :mod:`.rows`).

Each ``ingest`` validates the rows (nothing is written if any row breaks the view's schema),
writes one Parquet file ``<root>/<view>/v<version>/<write id>-<random>.parquet`` and then
marks the write committed in the metadata store. Readers only see committed writes, so a crash
mid-write leaves nothing half-visible. Every stored row carries ``__seq`` (write id × 2³² + row
position in the written frame): among rows with the same key, event time and created time, the
last written wins. A file's rows are stored grouped by key and sorted by event time, created
time and ``__seq`` within a key.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

import pandas as pd
import pyarrow as pa

from ..store.parquet_files import ParquetFiles
from .definition import FeatureView

SEQ = "__seq"


class OfflineStore(ParquetFiles):
    """Parquet files of feature rows under ``url`` (a folder path or an fsspec URL)."""

    def new_path(self, view: str, version: int, write_id: int) -> str:
        return f"{self.root}/{view}/v{version}/{write_id:010d}-{uuid.uuid4().hex[:8]}.parquet"


class WriteResult(NamedTuple):
    """What one ``ingest`` wrote: the view version, the row count and the file."""

    view: str
    version: int
    rows: int
    write_id: int | None
    path: str | None


def key_kind(type_: pa.DataType) -> str | None:
    """``"int"`` or ``"string"``: the kind of a stored join key column."""
    if pa.types.is_integer(type_):
        return "int"
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return "string"
    return None


_ARROW_TO_PANDAS = {
    pa.int64(): pd.Int64Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
}


def column_to_pandas(column: pa.ChunkedArray | pa.Array, dtype: str) -> pd.Series:
    """An Arrow column as the pandas dtype of a field (nulls kept as NaN/NA/NaT)."""
    series = column.to_pandas(types_mapper=_ARROW_TO_PANDAS.get)
    if str(series.dtype) != dtype:
        series = series.astype(dtype)
    return series


def to_pandas(view: FeatureView, table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas(types_mapper=_ARROW_TO_PANDAS.get)
    for field in view.fields:
        if field.name in frame.columns and str(frame[field.name].dtype) != field.pandas_dtype:
            frame[field.name] = frame[field.name].astype(field.pandas_dtype)
    return frame
