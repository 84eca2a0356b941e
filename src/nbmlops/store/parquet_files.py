"""A folder of Parquet files on a local disk or any fsspec URL, written one file per write.

The feature store's offline rows and the prediction log both keep their data this way: each
write is a new file (written atomically on a local disk), and the metadata store says which
files are committed, so readers never see half a write.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from .faults import disk_error

if TYPE_CHECKING:
    import duckdb


class ParquetFiles:
    """Parquet files under ``url`` (a folder path or an fsspec URL)."""

    def __init__(self, url: str):
        self.url = str(url)
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.local = isinstance(self.fs, LocalFileSystem)
        self.root = self.root.rstrip("/")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def write_table(self, table: pa.Table, path: str) -> int:
        """Write ``table`` at ``path`` (atomically on a local disk); return its size.

        A full disk is :class:`~nbmlops.errors.StoreFull` (other write failures a
        ``StoreError``), with no partial file left behind.
        """
        parent = path.rsplit("/", 1)[0]
        try:
            self.fs.makedirs(parent, exist_ok=True)
            if self.local:
                tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
                try:
                    pq.write_table(table, tmp, compression="snappy")
                    os.replace(tmp, path)
                finally:
                    if os.path.exists(tmp):
                        os.remove(tmp)
            else:
                with self.fs.open(path, "wb") as fh:
                    pq.write_table(table, fh, compression="snappy")
            return int(self.fs.size(path))
        except OSError as exc:  # pyarrow's IO errors are OSErrors too
            raise disk_error(exc, self.url) from None

    def remove(self, path: str) -> None:
        try:
            self.fs.rm(path)
        except FileNotFoundError:
            pass

    def schema(self, path: str) -> pa.Schema:
        with self.fs.open(path, "rb") as fh:
            return pq.read_schema(fh)

    def sql_source(self, con: duckdb.DuckDBPyConnection, paths: list[str]) -> str:
        """A ``read_parquet([...])`` expression DuckDB can run over ``paths``."""
        if self.local:
            listed = paths
        else:
            con.register_filesystem(self.fs)
            protocol = (
                self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
            )
            listed = [f"{protocol}://{p.lstrip('/')}" for p in paths]
        quoted = ", ".join("'" + p.replace("'", "''") + "'" for p in listed)
        return f"read_parquet([{quoted}])"
