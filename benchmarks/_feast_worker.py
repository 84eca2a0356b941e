"""Runs Feast inside its own virtual environment (``benchmarks/.venv-feast``) for bench_features.

Usage: ``python _feast_worker.py offline|online FOLDER [--store file|duckdb] [--repeat N]``.
The offline mode times the first ``get_historical_features(...).to_df()`` of this fresh process
(after ``FeatureStore`` + ``apply``) and N - 1 more, as bench_features.py does for nbmlops. FOLDER holds
``features.parquet`` and ``entities.parquet`` (written by bench_features.py). Prints one JSON
object: timings, row counts and the peak RSS of this process; the offline mode also writes
``feast_<store>.parquet`` (the training set, with the entity frame's ``row_id``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path

warnings.filterwarnings("ignore")

FIELDS = [f"f{i}" for i in range(5)]


def _repo(folder: Path, store: str) -> Path:
    repo = folder / f"feast_repo_{store}"
    repo.mkdir(exist_ok=True)
    (repo / "feature_store.yaml").write_text(
        "project: bench\n"
        f"registry: {repo / 'registry.db'}\n"
        "provider: local\n"
        "online_store:\n"
        "  type: sqlite\n"
        f"  path: {repo / 'online.db'}\n"
        "offline_store:\n"
        f"  type: {store}\n"
        "entity_key_serialization_version: 3\n"
    )
    return repo


def _store(folder: Path, store: str):
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.types import Float64
    from feast.value_type import ValueType

    repo = _repo(folder, store)
    source = FileSource(path=str(folder / "features.parquet"), timestamp_field="ts")
    entity = Entity(name="entity", join_keys=["entity_id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="fv",
        entities=[entity],
        ttl=timedelta(days=1),
        schema=[Field(name=f, dtype=Float64) for f in FIELDS],
        source=source,
        online=True,
    )
    fs = FeatureStore(repo_path=str(repo))
    fs.apply([entity, view])
    return fs


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def offline(folder: Path, store: str, repeat: int = 1) -> dict:
    import pandas as pd

    entity_df = pd.read_parquet(folder / "entities.parquet")
    entity_df = entity_df.rename(columns={"ts": "event_timestamp"})
    fs = _store(folder, store)
    runs, load = [], os.getloadavg()[0]
    for _ in range(repeat):
        start = time.perf_counter()
        result = fs.get_historical_features(
            entity_df=entity_df, features=[f"fv:{f}" for f in FIELDS]
        ).to_df()
        runs.append(time.perf_counter() - start)
    result[["row_id", *FIELDS]].to_parquet(folder / f"feast_{store}.parquet")
    return {
        "first": runs[0],
        "seconds": min(runs),
        "runs": runs,
        "load": [load, os.getloadavg()[0]],
        "rows": len(result),
        "rss_mb": _rss_mb(),
    }


def online(folder: Path, n_single: int, n_batch: int) -> dict:
    import numpy as np
    import pandas as pd

    fs = _store(folder, "file")
    features = pd.read_parquet(folder / "features.parquet", columns=["entity_id", "ts"])
    start = time.perf_counter()
    fs.materialize(
        start_date=features["ts"].min().to_pydatetime() - timedelta(seconds=1),
        end_date=features["ts"].max().to_pydatetime() + timedelta(seconds=1),
    )
    materialize_s = time.perf_counter() - start
    ids = features["entity_id"].unique()
    rng = np.random.default_rng(0)
    refs = [f"fv:{f}" for f in FIELDS]
    single = []
    for cid in rng.choice(ids, n_single):
        t = time.perf_counter()
        fs.get_online_features(features=refs, entity_rows=[{"entity_id": int(cid)}]).to_dict()
        single.append(time.perf_counter() - t)
    batch = []
    for _ in range(n_batch):
        rows = [{"entity_id": int(c)} for c in rng.choice(ids, 1000, replace=False)]
        t = time.perf_counter()
        fs.get_online_features(features=refs, entity_rows=rows).to_dict()
        batch.append(time.perf_counter() - t)
    single_us = np.array(single) * 1e6
    return {
        "materialize_s": materialize_s,
        "single_p50_us": float(np.percentile(single_us, 50)),
        "single_p99_us": float(np.percentile(single_us, 99)),
        "batch_p50_ms": float(np.percentile(np.array(batch) * 1e3, 50)),
        "rss_mb": _rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["offline", "online", "version"])
    parser.add_argument("folder", nargs="?", default=".")
    parser.add_argument("--store", default="file", choices=["file", "duckdb"])
    parser.add_argument("--single", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1, help="offline: best of N runs")
    args = parser.parse_args()
    if args.mode == "version":
        import feast

        out = {"feast": feast.__version__}
    elif args.mode == "offline":
        out = offline(Path(args.folder), args.store, args.repeat)
    else:
        out = online(Path(args.folder), args.single, args.batch)
    sys.stdout.write("\nRESULT " + json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
