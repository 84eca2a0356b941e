"""Data larger than memory: drift, validation and a point-in-time join on DuckDB and on a Dask
LocalCluster, over a generated Parquet dataset, with time and peak memory per step.

The dataset (``--rows`` rows × 20 columns: 14 float, 3 integer, 2 string, 1 timestamp) is
written in 1M-row chunks, so generating it needs little memory; the reference is a tenth of it;
a feature view of ``rows / 10`` rows (key ``i00``, event time ``ts``) is ingested for the join.
Each step runs in a fresh process whose whole process tree (Dask workers included) is sampled
for resident memory every 0.1 s; DuckDB gets ``--memory-limit`` × 0.5 as its own limit (the
rest is Python, Arrow and the OS), the two Dask workers share ``--memory-limit``. With
``--rlimit`` the step process also gets ``RLIMIT_AS`` = ``--memory-limit`` (DuckDB steps
only: Dask workers reserve address space they never touch).

A sample check (``--check-rows``, default min(rows, 5M)) compares the out-of-core results on
the first rows of both frames with the in-memory ones: verdicts and exact statistics equal,
Wasserstein within its stated bound, validation counts equal. Evidently and Feast take pandas
DataFrames, so on the full dataset they would need the whole frame in memory; they are not run
here (not installed in this environment; ``bench_drift.py`` and ``bench_features.py`` compare
them in memory).

    python benchmarks/bench_out_of_core.py --rows 100_000_000 --memory-limit 4GiB
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHUNK = 1_000_000
FLOATS, INTS, STRINGS = 14, 3, 2
STEPS = ("drift", "validate", "pit")
ENGINES = ("duckdb", "dask")


def parse_size(text: str) -> int:
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    if t and t[-1] in units:
        return int(float(t[:-1]) * units[t[-1]])
    return int(float(t))


# -- data ----------------------------------------------------------------------------------------


def _chunk(n: int, seed: int, shift: float, start_time):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(FLOATS):
        # every third float column drifts in the current data
        cols[f"c{i:02d}"] = rng.normal(shift if i % 3 == 0 else 0.0, 1.0, n)
    cols["i00"] = rng.integers(0, 1_000_000, n)
    for i in range(1, INTS):
        cols[f"i{i:02d}"] = rng.integers(0, 100 + (10 if shift else 0), n)
    cats = np.array(["a", "b", "c", "d", "e"])
    for i in range(STRINGS):
        p = [0.3, 0.25, 0.2, 0.15, 0.1] if not (shift and i == 0) else [0.2] * 5
        cols[f"s{i:02d}"] = cats[rng.choice(5, n, p=p)]
    cols["ts"] = start_time + pd.to_timedelta(rng.integers(0, 30 * 86400, n), "s")
    return pd.DataFrame(cols)


def generate(folder: Path, rows: int) -> dict:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = pd.Timestamp("2026-01-01")
    sizes = {}
    for name, total, shift, seed in (
        ("reference", max(rows // 10, 1000), 0.0, 0),
        ("current", rows, 0.2, 10**6),
    ):
        out = folder / name
        out.mkdir(parents=True, exist_ok=True)
        done, part = 0, 0
        while done < total:
            n = min(CHUNK, total - done)
            frame = _chunk(n, seed + part, shift, t0)
            pq.write_table(
                pa.Table.from_pandas(frame, preserve_index=False), out / f"part-{part:05d}.parquet"
            )
            done += n
            part += 1
        sizes[name] = sum(f.stat().st_size for f in out.iterdir())
    return sizes


def ingest_features(folder: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd

    import nbmlops
    from nbmlops.features import Entity, FeatureStore, FeatureView, Field

    nbmlops.configure(home=str(folder / "workspace"))
    fs = FeatureStore()
    view = FeatureView(
        "profile",
        Entity("customer", join_keys="i00"),
        [Field("f0", "float64"), Field("f1", "int64")],
        timestamp="ts",
        ttl=pd.Timedelta(days=7).to_pytimedelta(),
    )
    fs.apply(view)
    total, done, part = max(rows // 10, 1000), 0, 0
    rng = np.random.default_rng(99)
    t0 = pd.Timestamp("2025-12-25")
    while done < total:
        n = min(CHUNK, total - done)
        fs.ingest(
            view,
            pd.DataFrame(
                {
                    "i00": rng.integers(0, 1_000_000, n),
                    "ts": t0 + pd.to_timedelta(rng.integers(0, 37 * 86400, n), "s"),
                    "f0": rng.normal(size=n),
                    "f1": rng.integers(0, 1000, n),
                }
            ),
        )
        done += n
        part += 1


# -- one step, in its own process ------------------------------------------------------------------


def run_step(step: str, engine: str, folder: Path, limit: int) -> dict:
    import nbmlops

    nbmlops.configure(
        home=str(folder / "workspace"),
        duckdb_memory_limit=f"{limit // 2 // 2**20}MiB",
        duckdb_temp_directory=str(folder / "spill"),
    )
    scheduler = None
    if engine == "dask":
        import distributed

        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit=limit // 2,
            dashboard_address=None,
        )
        scheduler = distributed.Client(cluster)
    ref, cur = str(folder / "reference"), str(folder / "current")
    started = time.perf_counter()
    info: dict = {}
    if step == "drift":
        report = nbmlops.drift_report(ref, cur, engine=engine, scheduler=scheduler)
        info["drifted"] = sorted(report.drifted_columns)
    elif step == "validate":
        exp = nbmlops.expectations_from(
            ref, engine=engine, scheduler=scheduler, quantile_band=(0.001, 0.999)
        )
        result = nbmlops.validate(cur, exp, engine=engine, scheduler=scheduler)
        info["failed_checks"] = int((~result.table["passed"]).sum())
    else:
        from nbmlops.features import FeatureStore

        out = folder / f"training-{engine}.parquet"
        shutil.rmtree(out, ignore_errors=True)
        if out.exists():
            out.unlink()
        entity = cur
        if engine == "dask":
            import dask.dataframe as dd

            entity = dd.read_parquet(cur)
        FeatureStore().get_historical_features(
            entity,
            ["profile:f0", "profile:f1"],
            timestamp="ts",
            engine=engine,
            scheduler=scheduler,
            output=out,
        )
        info["output_bytes"] = sum(
            f.stat().st_size for f in ([out] if out.is_file() else out.rglob("*.parquet"))
        )
    info["seconds"] = time.perf_counter() - started
    if scheduler is not None:
        scheduler.close()
        cluster.close()
    return info


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return 0


def measure(step: str, engine: str, folder: Path, limit: int, rlimit: bool) -> dict:
    cmd = [sys.executable, __file__, "--step", step, "--engine", engine, "--dir", str(folder)]
    cmd += ["--memory-limit", str(limit)] + (["--rlimit"] if rlimit else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    if proc.returncode != 0:
        return {
            "error": err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}",
            "peak_bytes": peak[0],
        }
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_bytes"] = peak[0]
    return result


# -- the sample check -------------------------------------------------------------------------------


def sample_check(folder: Path, rows: int) -> dict:
    """Out-of-core vs in-memory on the first ``rows`` of both frames (DuckDB and Dask)."""
    import distributed
    import numpy as np
    import pandas as pd
    import pyarrow.dataset as ds

    import nbmlops

    nbmlops.configure(home=str(folder / "workspace"))
    sample = folder / "sample"
    sample.mkdir(exist_ok=True)
    frames = {}
    for name, n in (("reference", max(rows // 10, 1000)), ("current", rows)):
        table = ds.dataset(str(folder / name)).head(n)
        frames[name] = table.to_pandas()
        frames[name].to_parquet(sample / f"{name}.parquet")
    expected = nbmlops.drift_report(frames["reference"], frames["current"], progress=False)
    exp = nbmlops.expectations_from(frames["reference"], quantile_band=(0.001, 0.999))
    expected_v = nbmlops.validate(frames["current"], exp).table
    out: dict = {"rows": rows}
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as c,
        distributed.Client(c) as client,
    ):
        for engine, scheduler in (("duckdb", None), ("dask", client)):
            got = nbmlops.drift_report(
                str(sample / "reference.parquet"),
                str(sample / "current.parquet"),
                engine=engine,
                scheduler=scheduler,
                progress=False,
            )
            worst, verdicts, exact = 0.0, True, True
            for e, g in zip(expected.columns, got.columns, strict=True):
                verdicts &= e["drifted"] == g["drifted"] and e["method"] == g["method"]
                exact &= bool(np.isclose(e["psi"], g["psi"], rtol=1e-9))
                note = next((n for n in g["notes"] if n.startswith("approximate:")), None)
                if note:
                    bound = float(note.split("± ")[1].split(" ")[0])
                    worst = max(worst, abs(e["statistic"] - g["statistic"]) / max(bound, 1e-300))
                else:
                    exact &= bool(np.isclose(e["statistic"], g["statistic"], rtol=1e-9))
            v = nbmlops.validate(
                str(sample / "current.parquet"), exp, engine=engine, scheduler=scheduler
            ).table
            same_v = (
                v[["passed", "failing_count"]].to_numpy()
                == expected_v[["passed", "failing_count"]].to_numpy()
            ).all()
            out[engine] = {
                "verdicts_equal": bool(verdicts),
                "exact_statistics_equal": bool(exact),
                "approximate_error_over_bound": worst,
                "validation_equal": bool(same_v),
            }
    del pd
    return out


# -- report -------------------------------------------------------------------------------------------


def section(
    command: str, args, sizes: dict, results: dict, check: dict | None, gen_s: float
) -> str:
    import dask
    import duckdb

    import nbmlops

    limit = args.memory_limit
    lines = [
        "## Out-of-core data: drift, validation and a point-in-time join on DuckDB and Dask",
        "",
        "Made by `benchmarks/bench_out_of_core.py`; the numbers below come from one run of:",
        "",
        "```",
        command,
        "```",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {os.cpu_count()} cores, {platform.platform()} (shared and busy when measured)",
        f"- nbmlops {nbmlops.__version__}, DuckDB {duckdb.__version__}, Dask {dask.__version__}",
        f"- data: current {args.rows:,} rows × 20 columns ({sizes['current'] / 2**20:,.0f} MiB "
        f"Parquet), reference {max(args.rows // 10, 1000):,} rows "
        f"({sizes['reference'] / 2**20:,.0f} MiB); feature view of {max(args.rows // 10, 1000):,} "
        f"rows; generated in {gen_s:.0f} s",
        f"- memory limit: {limit / 2**30:.2f} GiB for each step's whole process tree (DuckDB "
        f"`memory_limit` {limit // 2 // 2**20} MiB; two Dask workers of {limit // 2 // 2**20} MiB)"
        + ("; RLIMIT_AS set on DuckDB steps" if args.rlimit else ""),
        "",
        "| step | engine | time | peak RSS (process tree) | within limit |",
        "|---|---|---:|---:|---|",
    ]
    for (step, engine), r in results.items():
        if "error" in r:
            lines.append(
                f"| {step} | {engine} | failed: {r['error'][:80]} | "
                f"{r['peak_bytes'] / 2**20:,.0f} MiB | no |"
            )
            continue
        ok = "yes" if r["peak_bytes"] <= limit else "no"
        lines.append(
            f"| {step} | {engine} | {r['seconds']:.1f} s | {r['peak_bytes'] / 2**20:,.0f} MiB | {ok} |"
        )
    if check:
        lines += ["", f"Sample check on the first {check['rows']:,} rows (reference: a tenth):", ""]
        for engine in ENGINES:
            c = check[engine]
            lines.append(
                f"- {engine}: verdicts equal {c['verdicts_equal']}; exact statistics equal "
                f"{c['exact_statistics_equal']}; largest Wasserstein error / stated bound "
                f"{c['approximate_error_over_bound']:.3f}; validation counts equal "
                f"{c['validation_equal']}"
            )
    frame_bytes = args.rows * 20 * 8
    lines += [
        "",
        "Evidently and Feast take pandas DataFrames: the full frame needs at least "
        f"{frame_bytes / 2**30:,.1f} GiB in memory (float64)"
        + (", beyond the limit" if frame_bytes > limit else "")
        + ". Neither is installed in this environment, so neither was run here "
        "(`bench_drift.py` and `bench_features.py` compare them in memory).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=100_000_000)
    parser.add_argument("--memory-limit", type=parse_size, default=parse_size("4GiB"))
    parser.add_argument("--dir", help="where the dataset is (re)used; default: a temporary folder")
    parser.add_argument("--engines", default="duckdb,dask")
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--check-rows", type=lambda s: int(s.replace("_", "")), default=None)
    parser.add_argument("--rlimit", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.step:  # the child process of one measured step
        if args.rlimit and args.engine == "duckdb":
            resource.setrlimit(resource.RLIMIT_AS, (args.memory_limit, args.memory_limit))
        print(json.dumps(run_step(args.step, args.engine, Path(args.dir), args.memory_limit)))
        return 0

    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="nbmlops-ooc-"))
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "generated.json"
    started = time.perf_counter()
    if marker.exists() and json.loads(marker.read_text())["rows"] == args.rows:
        meta = json.loads(marker.read_text())
    else:
        for name in ("reference", "current", "workspace", "sample"):
            shutil.rmtree(folder / name, ignore_errors=True)
        sizes = generate(folder, args.rows)
        ingest_features(folder, args.rows)
        meta = {"rows": args.rows, "sizes": sizes, "seconds": time.perf_counter() - started}
        marker.write_text(json.dumps(meta))
    print(f"data in {folder} ({meta['seconds']:.0f} s to generate)", flush=True)
    results = {}
    for step in args.steps.split(","):
        for engine in args.engines.split(","):
            results[(step, engine)] = r = measure(
                step, engine, folder, args.memory_limit, args.rlimit
            )
            print(step, engine, r, flush=True)
    check_rows = min(args.rows, 5_000_000) if args.check_rows is None else args.check_rows
    check = sample_check(folder, check_rows) if check_rows else None
    print("sample check:", check, flush=True)
    command = "python benchmarks/bench_out_of_core.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    text = section(command.strip(), args, meta["sizes"], results, check, meta["seconds"])
    print(text)
    if not args.no_write:
        sys.path.insert(0, str(HERE))
        from _results import write_section

        write_section("bench_out_of_core", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
