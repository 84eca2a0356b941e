"""Too old a DuckDB or pyarrow for the out-of-core engines is refused with the upgrade to make,
before any data is read; an in-memory DataFrame needs neither."""

from __future__ import annotations

import pandas as pd
import pytest

import nbmlops
from nbmlops.data import source
from nbmlops.errors import DataSourceError


def test_old_engine_versions_are_refused_naming_the_upgrade(monkeypatch, tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    monkeypatch.setitem(source.MINIMUM_VERSIONS, "duckdb", (999, 0))
    with pytest.raises(DataSourceError, match=r"needs duckdb >= 999\.0 .*pip install -U"):
        nbmlops.drift_report(str(path), str(path), progress=False)
    # The in-memory path does not depend on the engines.
    assert not nbmlops.drift_report(frame, frame).dataset_drift
