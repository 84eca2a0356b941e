"""Data larger than memory, as one kind of object: :class:`~.source.DataSource`.

:func:`as_source` turns every accepted input — a pandas DataFrame, a Parquet or CSV path or
fsspec URL (file, folder or glob), a DuckDB relation, a pyarrow Dataset, a Dask DataFrame —
into a source on one of two engines, DuckDB (:mod:`._duck`, the default) or a Dask cluster
(:mod:`._dask`, the same settings as the pipeline executor: a scheduler address, a
``Client``, or a ``LocalCluster``). A source answers what monitoring and the feature store
need by aggregation — schema, row count, per-column null counts, min/max/mean/std, exact order
statistics, counts in bins, value counts — and never loads the rows into pandas.
"""

from __future__ import annotations

from ._base import DataSource
from .source import ENGINES, as_source, is_out_of_core

__all__ = ["ENGINES", "DataSource", "as_source", "is_out_of_core"]
