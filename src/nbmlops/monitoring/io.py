"""Reading the data files the command line and ``%drift`` take (CSV or Parquet, any fsspec
path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import MonitoringError

if TYPE_CHECKING:
    import pandas as pd

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_frame(path: str) -> pd.DataFrame:
    """A DataFrame from a ``.csv`` or ``.parquet`` file (local or any fsspec URL)."""
    import pandas as pd

    suffix = next((s for s in READERS if str(path).lower().endswith(s)), None)
    if suffix is None:
        raise MonitoringError(f"cannot tell the format of {path!r}: give a .csv or .parquet file")
    try:
        if READERS[suffix] == "csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise MonitoringError(f"no such file: {path}") from None
    except (ValueError, OSError) as exc:
        raise MonitoringError(f"cannot read {path}: {exc}") from None
