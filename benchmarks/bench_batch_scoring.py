"""Batch scoring's memory at scale: ``nbmlops score`` of ``--rows`` rows (30 float columns, row
groups of 100,000, like bench_serving's batch file), logged, here and on a Dask LocalCluster,
with the peak RSS of the whole process tree (the CLI and, on Dask, its workers) sampled with
psutil every 0.1 s. Target (issue 15): 10M rows under 2 GiB.

    python benchmarks/bench_batch_scoring.py --rows 10M --dir /work/bigdata/batch
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLUMNS = [f"x{i}" for i in range(30)]
TARGET = 2 * 2**30


def prepare(folder: Path, rows: int) -> Path:
    """A workspace with model ``bench`` in production and the input file (made once)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import nbmlops

    source = folder / f"in-{rows}.parquet"
    if source.exists():
        return source
    nbmlops.configure(home=str(folder / "workspace"))
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(10, 3, (5000, len(COLUMNS))), columns=COLUMNS)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, x["x0"] > 10)
    mv = nbmlops.register_model(model, "bench", input_example=x.head(20))
    nbmlops.promote("bench", mv.version)
    writer = None
    for start in range(0, rows, 500_000):
        n = min(500_000, rows - start)
        table = pa.table({c: rng.normal(10, 3, n) for c in COLUMNS})
        writer = writer or pq.ParquetWriter(str(source) + ".tmp", table.schema)
        writer.write_table(table, row_group_size=100_000)
    writer.close()
    os.replace(str(source) + ".tmp", source)
    return source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows",
        type=lambda s: (
            int(float(s.upper().rstrip("M")) * 1e6) if s.upper().endswith("M") else int(s)
        ),
        default=10_000_000,
    )
    parser.add_argument("--dir", help="data folder (default: a temporary one, removed)")
    parser.add_argument("--engines", default="local,dask")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from bench_out_of_core import measure

    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="nbmlops-batch-"))
    folder.mkdir(parents=True, exist_ok=True)
    source = prepare(folder, args.rows)
    env = {**os.environ, "NBMLOPS_HOME": str(folder / "workspace")}
    code = (
        "import json, sys, time; from nbmlops.cli import main\n"
        "t = time.perf_counter()\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print(json.dumps({'seconds': time.perf_counter() - t}))\n"
    )
    results = {}
    for engine in args.engines.split(","):
        out = folder / f"out-{engine}.parquet"
        cmd = [sys.executable, "-c", code, "score", "bench", str(source), "-o", str(out)]
        cmd += ["--engine", engine]
        load = os.getloadavg()[0]
        result, peak = measure(cmd, 8 * 2**30, 3 * 3600, env=env)
        result.update(peak_bytes=peak, load=[load, os.getloadavg()[0]])
        results[engine] = result
        print(engine, result, flush=True)
        if out.exists():
            out.unlink()
    lines = [
        "## Batch scoring at scale: `nbmlops score`, here and on Dask",
        "",
        "Made by `benchmarks/bench_batch_scoring.py`; the numbers below come from one run of:",
        "",
        "```",
        "python benchmarks/bench_batch_scoring.py " + " ".join(argv or sys.argv[1:]),
        "```",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores,"
        " shared with other sessions and a stress test (load average per run in the table)",
        f"- input: {args.rows:,} rows × 30 float columns, row groups of 100,000 "
        f"({source.stat().st_size / 2**20:,.0f} MiB of Parquet); a StandardScaler + "
        "LogisticRegression pipeline; predictions logged; `--batch-rows` 100,000 (default)",
        "- peak RSS: the whole process tree (the CLI process and, with `--engine dask`, the "
        "local cluster's workers it starts), sampled every 0.1 s with psutil",
        "",
        "| engine | time | peak RSS (process tree) | under 2 GiB | load (start/end) |",
        "|---|---:|---:|---|---|",
    ]
    for engine, r in results.items():
        load = "/".join(f"{x:.1f}" for x in r["load"])
        if "error" in r:
            lines.append(
                f"| {engine} | failed: {r['error'][:80]} | "
                f"{r['peak_bytes'] / 2**20:,.0f} MiB | no | {load} |"
            )
        else:
            ok = "yes" if r["peak_bytes"] < TARGET else "no"
            lines.append(
                f"| {engine} | {r['seconds']:,.0f} s | "
                f"{r['peak_bytes'] / 2**20:,.0f} MiB | {ok} | {load} |"
            )
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        from _results import write_section

        write_section("bench_batch_scoring", text)
    if not args.dir:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
