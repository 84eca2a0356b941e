"""One peer measurement of ``bench_out_of_core.py``, run in the peers' interpreter (a venv with
evidently and feast): the first N rows of the generated data as pandas DataFrames, then

- ``evidently``: ``Report([DataDriftPreset()])`` of current N rows against reference N / 10;
- ``feast``: ``get_historical_features`` (local provider, file offline store) with the first
  N current rows as the entity frame and the feature view's rows as a FileSource.

Prints ``RESULT {json}`` last: seconds (the tool's call, data loading excluded), version and a
one-line summary::

    python benchmarks/_ooc_peers.py evidently|feast DATA_DIR N FEATURES_DIR
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path

warnings.filterwarnings("ignore")


def head(folder: Path, n: int):
    import pyarrow.dataset as ds

    return ds.dataset(str(folder)).head(n).to_pandas()


def evidently(data: Path, n: int) -> dict:
    import evidently as ev
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    cur, ref = head(data / "current", n), head(data / "reference", max(n // 10, 1000))
    numeric = [c for c in cur.columns if c[0] in "ci"]
    definition = DataDefinition(
        numerical_columns=numeric, categorical_columns=["s00", "s01"], datetime_columns=["ts"]
    )
    started = time.perf_counter()
    result = (
        Report([DataDriftPreset()])
        .run(
            Dataset.from_pandas(cur, data_definition=definition),
            Dataset.from_pandas(ref, data_definition=definition),
        )
        .dict()
    )
    seconds = time.perf_counter() - started
    drifted = next(
        m["value"]["count"]
        for m in result["metrics"]
        if m.get("config", {}).get("type", "").endswith("DriftedColumnsCount")
    )
    return {"seconds": seconds, "version": ev.__version__, "summary": f"{drifted:.0f} drifted"}


def feast(data: Path, n: int, features: Path) -> dict:
    import feast as fe
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.types import Float64, Int64
    from feast.value_type import ValueType

    repo = data / "feast_repo"
    repo.mkdir(exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        "project: ooc\n"
        f"registry: {repo / 'registry.db'}\n"
        "provider: local\n"
        f"online_store:\n  type: sqlite\n  path: {repo / 'online.db'}\n"
        "offline_store:\n  type: file\n"
        "entity_key_serialization_version: 3\n"
    )
    entity = Entity(name="customer", join_keys=["i00"], value_type=ValueType.INT64)
    view = FeatureView(
        name="profile",
        entities=[entity],
        ttl=timedelta(days=7),
        schema=[Field(name="f0", dtype=Float64), Field(name="f1", dtype=Int64)],
        source=FileSource(path=str(features), timestamp_field="ts"),
    )
    fs = FeatureStore(repo_path=str(repo))
    fs.apply([entity, view])
    entity_df = head(data / "current", n).rename(columns={"ts": "event_timestamp"})
    started = time.perf_counter()
    out = fs.get_historical_features(
        entity_df=entity_df, features=["profile:f0", "profile:f1"]
    ).to_df()
    seconds = time.perf_counter() - started
    found = int(out["f0"].notna().sum())
    return {"seconds": seconds, "version": fe.__version__, "summary": f"{found:,} rows matched"}


def main() -> None:
    os.environ.setdefault("DO_NOT_TRACK", "1")  # no telemetry
    tool, data, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    out = evidently(data, n) if tool == "evidently" else feast(data, n, Path(sys.argv[4]))
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
