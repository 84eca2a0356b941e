"""One side of ``bench_drift.py``: load the two Parquet files, build the drift report with one
tool, write its HTML, and print JSON with timings, sizes, peak memory and per-column verdicts.

Run by ``bench_drift.py`` in a fresh process per tool and size (so peak memory is the tool's
own), with nbmlops' interpreter or with Evidently's (which needs pandas < 3 and plotly < 6)::

    python benchmarks/_drift_worker.py nbmlops|evidently DATA_DIR OUT_DIR
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

EVIDENTLY_METHODS = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "K-S p_value": "ks",
    "chi-square p_value": "chi2",
    "Z-test p_value": "z",
    "PSI": "psi",
}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(data_dir: Path):
    import pandas as pd

    ref = pd.read_parquet(data_dir / "reference.parquet")
    cur = pd.read_parquet(data_dir / "current.parquet")
    meta = json.loads((data_dir / "columns.json").read_text())
    return ref, cur, meta


def run_nbmlops(data_dir: Path, out_dir: Path) -> dict:
    import nbmlops

    ref, cur, meta = load(data_dir)
    # Warm-up on a slice: first-call imports (scipy, …) are not the report's compute time.
    nbmlops.drift_report(ref.head(2000), cur.head(2000), categorical=meta["categorical"])
    loaded = peak_mb()
    started = time.perf_counter()
    report = nbmlops.drift_report(ref, cur, categorical=meta["categorical"], progress=False)
    compute = time.perf_counter() - started
    started = time.perf_counter()
    html = out_dir / "nbmlops.html"
    report.to_html(html)
    html_s = time.perf_counter() - started
    columns = {
        c["column"]: {"method": c["method"], "value": c["statistic"], "drifted": c["drifted"]}
        for c in report.columns
    }
    return {
        "tool": "nbmlops",
        "version": nbmlops.__version__,
        "compute_s": compute,
        "html_s": html_s,
        "html_bytes": html.stat().st_size,
        "peak_mb": peak_mb(),
        "loaded_mb": loaded,
        "dataset_drift": report.dataset_drift,
        "columns": columns,
    }


def run_evidently(data_dir: Path, out_dir: Path) -> dict:
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref, cur, meta = load(data_dir)
    definition = DataDefinition(
        numerical_columns=meta["numeric"], categorical_columns=meta["categorical"]
    )
    loaded = peak_mb()
    # The same warm-up as for nbmlops.
    Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur.head(2000), data_definition=definition),
        Dataset.from_pandas(ref.head(2000), data_definition=definition),
    ).dict()
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    result = snapshot.dict()
    compute = time.perf_counter() - started
    started = time.perf_counter()
    html = out_dir / "evidently.html"
    snapshot.save_html(str(html))
    html_s = time.perf_counter() - started
    columns, dataset_drift = {}, None
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            value = float(metric["value"])
            method = EVIDENTLY_METHODS.get(config["method"], config["method"])
            threshold = float(config["threshold"])
            drifted = value < threshold if method in ("ks", "chi2", "z") else value >= threshold
            columns[config["column"]] = {"method": method, "value": value, "drifted": drifted}
        elif config.get("type", "").endswith("DriftedColumnsCount"):
            dataset_drift = metric["value"]["share"] >= config.get("drift_share", 0.5)
    return {
        "tool": "Evidently",
        "version": evidently.__version__,
        "compute_s": compute,
        "html_s": html_s,
        "html_bytes": html.stat().st_size,
        "peak_mb": peak_mb(),
        "loaded_mb": loaded,
        "dataset_drift": dataset_drift,
        "columns": columns,
    }


def main() -> None:
    tool, data_dir, out_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    os.environ.setdefault("DO_NOT_TRACK", "1")  # no telemetry from Evidently
    result = (
        run_nbmlops(data_dir, out_dir) if tool == "nbmlops" else run_evidently(data_dir, out_dir)
    )
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
