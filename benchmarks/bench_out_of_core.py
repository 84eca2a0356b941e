"""Data larger than memory: drift, validation and a point-in-time join on DuckDB and on a Dask
LocalCluster, over a generated Parquet dataset, with time and peak memory per step.

The dataset (``--rows`` rows × 20 columns: 14 float, 3 integer, 2 string, 1 timestamp) is
written in 1M-row chunks, so generating it needs little memory; the reference is a tenth of it;
a feature view of ``rows / 10`` rows (key ``i00``, event time ``ts``) is ingested for the join.
Each step runs in a fresh process whose whole process tree (Dask workers included) is sampled
for resident memory every 0.1 s and killed if it goes over ``--memory-limit`` (the step is then
reported failed); DuckDB gets half the limit as its ``memory_limit`` (the rest is Python, Arrow
and the OS), the two Dask workers a quarter each. With ``--rlimit`` DuckDB steps also get
``RLIMIT_AS`` = the limit (not Dask: its workers reserve address space they never touch).
Each result is saved in the data folder as it comes, so an interrupted run resumes.

A sample check (``--check-rows``, default min(rows, 5M)) compares the out-of-core results on
the first rows of both frames with the in-memory ones: verdicts and exact statistics equal,
Wasserstein within its stated bound, validation counts equal. With ``--peers PYTHON`` (an
interpreter with evidently and feast), Evidently's drift preset and Feast's
``get_historical_features`` run on the first N rows for growing N (``--peer-sizes``) under the
same limit, until they fail (``_ooc_peers.py``).

Disk: at 100M rows the data take 13.6 GB (current 12.2 GiB, reference 1.2 GiB), each join's
training set as much again while it is measured (removed after), and DuckDB's spill (the join
runs in key-hash parts of about twice its ``memory_limit``; whole, it spilled more than 30 GB
and filled the disk here); keep ``--dir`` on a disk with 40 GB free. Steps can run side by side from separate
invocations on the same ``--dir`` (one per ``--engines``; ``--steps ''`` for the check and the
peers), and a last invocation with every result saved only writes the report.

    python benchmarks/bench_out_of_core.py --rows 100M --memory-limit 4GiB --dir /work/bigdata/ooc \\
        --peers /work/venv-peers/bin/python
"""

from __future__ import annotations

import argparse
import calendar
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


def feature_chunks(rows: int):
    """The feature view's rows (``rows / 10``, key ``i00``, event time ``ts``), in chunks."""
    import numpy as np
    import pandas as pd

    total, done = max(rows // 10, 1000), 0
    rng = np.random.default_rng(99)
    t0 = pd.Timestamp("2025-12-25")
    while done < total:
        n = min(CHUNK, total - done)
        yield pd.DataFrame(
            {
                "i00": rng.integers(0, 1_000_000, n),
                "ts": t0 + pd.to_timedelta(rng.integers(0, 37 * 86400, n), "s"),
                "f0": rng.normal(size=n),
                "f1": rng.integers(0, 1000, n),
            }
        )
        done += n


def ingest_features(folder: Path, rows: int) -> None:
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
    for frame in feature_chunks(rows):
        fs.ingest(view, frame)


def export_features(folder: Path, rows: int) -> Path:
    """The same feature rows as Parquet files, for Feast's FileSource."""
    out = folder / "features"
    if not (out / "done").exists():
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        for part, frame in enumerate(feature_chunks(rows)):
            frame.to_parquet(out / f"part-{part:05d}.parquet", index=False)
        (out / "done").write_text("")
    return out


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
            memory_limit=limit // 4,  # the other half: this process and the OS
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
        # the folder itself on both engines: on Dask it is read in 250k-row pieces (a
        # dd.read_parquet frame of 1M-row partitions is cut on the workers, which held each
        # whole partition while cutting it and died at 1 GiB)
        entity = cur
        FeatureStore().get_historical_features(
            entity,
            ["profile:f0", "profile:f1"],
            timestamp="ts",
            engine=engine,
            scheduler=scheduler,
            output=out,
        )
        joined_in = time.perf_counter() - started
        import pyarrow.dataset as ds

        info["rows_out"] = ds.dataset(str(out), format="parquet").count_rows()  # footers only
        info["output_bytes"] = sum(
            f.stat().st_size for f in ([out] if out.is_file() else out.rglob("*.parquet"))
        )
        # the training set is as large as the input: removed so the disk holds one at a time
        shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink()
    info["seconds"] = joined_in if step == "pit" else time.perf_counter() - started
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


def measure(
    cmd: list[str], limit: int, timeout: float, env: dict | None = None, log: Path | None = None
) -> tuple[dict, int]:
    """Run ``cmd`` (prints one JSON line last), sampling its process tree's RSS every 0.1 s.

    The limit is enforced here: a tree whose RSS goes over ``limit`` is killed and the step
    reported as failed (``over the memory limit``); so is one still running after ``timeout``.
    """
    import psutil

    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    peak, why = [0], [None]

    def sample() -> None:
        started = time.monotonic()
        while proc.poll() is None:
            rss = _tree_rss(proc.pid)
            peak[0] = max(peak[0], rss)
            over = rss > limit
            late = time.monotonic() - started > timeout
            if over or late:
                why[0] = (
                    f"over the memory limit ({rss / 2**20:,.0f} MiB)"
                    if over
                    else f"still running after {timeout:,.0f} s"
                )
                try:
                    for child in psutil.Process(proc.pid).children(recursive=True):
                        child.kill()
                    proc.kill()
                except psutil.Error:
                    pass
                return
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    if why[0] or proc.returncode != 0:
        if log is not None:
            log.write_text(err)
        # the exception's last line, not the warnings a closing cluster prints after it
        lines = [x for x in err.strip().splitlines() if x and not x[0].isspace()]
        errors = [x for x in lines if not x.startswith(("20", "  ")) and ("Error" in x or ":" in x)]
        last = (errors or lines or [f"exit {proc.returncode}"])[-1]
        return {"error": why[0] or last}, peak[0]
    return json.loads(out.strip().splitlines()[-1].removeprefix("RESULT ")), peak[0]


def measure_step(step: str, engine: str, folder: Path, args) -> dict:
    cmd = [sys.executable, __file__, "--step", step, "--engine", engine, "--dir", str(folder)]
    cmd += ["--memory-limit", str(args.memory_limit)] + (["--rlimit"] if args.rlimit else [])
    load = os.getloadavg()[0]
    log = folder / f"{step}-{engine}.stderr"
    result, peak = measure(cmd, args.memory_limit, _timeout(args), log=log)
    result.update(peak_bytes=peak, load=[load, os.getloadavg()[0]])
    return result


def _timeout(args) -> float:
    """Seconds a step may take: ``--step-timeout``, cut to what is left before ``--deadline``."""
    left = args.deadline - time.time() if args.deadline else args.step_timeout
    return max(1.0, min(args.step_timeout, left))


def _saved(folder: Path, name: str) -> dict:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _save(folder: Path, name: str, key: str, value) -> None:
    saved = _saved(folder, name)
    saved[key] = value
    (folder / f"{name}.json").write_text(json.dumps(saved, indent=1))


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


# -- Evidently and Feast, where they run at all ------------------------------------------------------


def run_peers(folder: Path, args) -> None:
    """Evidently's drift preset and Feast's get_historical_features on the first N rows, N
    growing until the tool fails or goes over the limit (run in ``--peers``' interpreter)."""
    worker = str(HERE / "_ooc_peers.py")
    features = export_features(folder, args.rows)
    for tool in args.peer_tools.split(","):
        for n in args.peer_sizes:
            if n > args.rows:
                break
            key = f"{tool}/{n}"
            if args.deadline and time.time() >= args.deadline:
                return
            if key in _saved(folder, "peers"):
                if "error" in _saved(folder, "peers")[key]:
                    break
                continue
            cmd = [args.peers, worker, tool, str(folder), str(n), str(features)]
            load = os.getloadavg()[0]
            result, peak = measure(cmd, args.memory_limit, _timeout(args))
            result.update(peak_bytes=peak, load=[load, os.getloadavg()[0]])
            _save(folder, "peers", key, result)
            print(tool, n, result, flush=True)
            if "error" in result:
                break


# -- report -------------------------------------------------------------------------------------------


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def section(command: str, args, meta: dict) -> str:
    import dask
    import duckdb

    import nbmlops

    folder = Path(args.dir)
    check, peers = _saved(folder, "check"), _saved(folder, "peers")
    limit, rows, sizes = args.memory_limit, meta["rows"], meta["sizes"]
    ref_rows = max(rows // 10, 1000)
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
        f"- machine: {os.cpu_count()} cores, {platform.platform()}; shared with other sessions "
        "and a stress test when measured (load average at each step's start/end in the table)",
        f"- nbmlops {nbmlops.__version__}, DuckDB {duckdb.__version__}, Dask {dask.__version__}",
        f"- data: current {rows:,} rows × 20 columns (14 float, 3 integer, 2 string, 1 timestamp;"
        f" {sizes['current'] / 2**30:,.1f} GiB of Parquet), reference {ref_rows:,} rows "
        f"({sizes['reference'] / 2**30:,.2f} GiB); feature view of {ref_rows:,} rows; "
        f"generated in {meta['seconds']:.0f} s",
        f"- memory limit: {limit / 2**30:.2f} GiB for each step's whole process tree (the step's "
        "process and, on Dask, the scheduler's workers it starts). Enforced by the benchmark: "
        "the tree's RSS is sampled every 0.1 s (psutil) and a tree above the limit is killed and "
        "its step reported failed. The engines are set to stay below it: DuckDB "
        f"`memory_limit` {limit // 2 // 2**20} MiB (spilling to disk beyond), two Dask workers "
        f"with `memory_limit` {limit // 4 // 2**20} MiB each (Dask's defaults: spill "
        "at 60–70 %, pause at 80 %, restart at 95 %)"
        + ("; RLIMIT_AS = the limit on DuckDB steps" if args.rlimit else ""),
        "",
        "| step | engine | time | peak RSS (process tree) | within limit | load (start/end) |",
        "|---|---|---:|---:|---|---|",
    ]
    for step in STEPS:
        for engine in ENGINES:
            r = _saved(folder, f"results-{engine}").get(step)
            if r is None:
                lines.append(f"| {step} | {engine} | not run | | | |")
                continue
            load = "/".join(f"{x:.1f}" for x in r["load"])
            if "error" in r:
                ok = "yes" if r["peak_bytes"] <= limit else "no"
                lines.append(
                    f"| {step} | {engine} | failed: {r['error'][:90]} | {_mib(r['peak_bytes'])} "
                    f"| {ok} | {load} |"
                )
                continue
            ok = "yes" if r["peak_bytes"] <= limit else "no"
            lines.append(
                f"| {step} | {engine} | {r['seconds']:,.0f} s | {_mib(r['peak_bytes'])} | {ok} "
                f"| {load} |"
            )
    if check:
        lines += [
            "",
            f"Sample check on the first {check['rows']:,} rows of the current data and "
            f"{max(check['rows'] // 10, 1000):,} of the reference: the out-of-core report and "
            "validation (read from Parquet) against the in-memory ones (the same rows as "
            "pandas DataFrames):",
            "",
        ]
        for engine in ENGINES:
            c = check.get(engine)
            if c:
                lines.append(
                    f"- {engine}: verdicts equal {c['verdicts_equal']}; exact statistics equal "
                    f"{c['exact_statistics_equal']}; largest Wasserstein error / stated bound "
                    f"{c['approximate_error_over_bound']:.3f}; validation counts equal "
                    f"{c['validation_equal']}"
                )
    if peers:
        lines += [
            "",
            "Evidently (`Report([DataDriftPreset()])`, current N rows against a reference of "
            "N / 10, the same columns) and Feast (`get_historical_features` with the local "
            "provider's file offline store, the first N rows as the entity frame, the same "
            "feature rows) take pandas DataFrames, so each size was tried in a fresh process "
            "under the same limit and watchdog, growing until one failed:",
            "",
            "| tool | version | N rows | time | peak RSS | result | load (start/end) |",
            "|---|---|---:|---:|---:|---|---|",
        ]
        for key, r in sorted(
            peers.items(), key=lambda kv: (kv[0].split("/")[0], int(kv[0].split("/")[1]))
        ):
            tool, n = key.split("/")
            load = "/".join(f"{x:.1f}" for x in r["load"])
            if "error" in r:
                lines.append(
                    f"| {tool} | {r.get('version', '')} | {int(n):,} | — | "
                    f"{_mib(r['peak_bytes'])} | failed: {r['error'][:90]} | {load} |"
                )
            else:
                lines.append(
                    f"| {tool} | {r['version']} | {int(n):,} | {r['seconds']:,.1f} s | "
                    f"{_mib(r['peak_bytes'])} | {r['summary']} | {load} |"
                )
    return "\n".join(lines)


def _rows(text: str) -> int:
    t = text.replace("_", "").strip().upper()
    scale = {"K": 10**3, "M": 10**6, "G": 10**9}.get(t[-1:], 1)
    return int(float(t.rstrip("KMG")) * scale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=_rows, default=100_000_000)
    parser.add_argument("--memory-limit", type=parse_size, default=parse_size("4GiB"))
    parser.add_argument("--dir", help="where the dataset is (re)used; default: a temporary folder")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated; '' for none")
    parser.add_argument("--check-rows", type=_rows, default=None)
    parser.add_argument("--rlimit", action="store_true")
    parser.add_argument("--step-timeout", type=float, default=4 * 3600)
    parser.add_argument(
        "--deadline",
        type=lambda s: calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M")),
        help="UTC time (YYYY-MM-DDTHH:MM) by which every step stops; later ones are cut",
    )
    parser.add_argument("--peers", help="a Python with evidently and feast installed")
    parser.add_argument("--peer-tools", default="evidently,feast")
    parser.add_argument(
        "--peer-sizes",
        type=lambda s: [_rows(x) for x in s.split(",")],
        default=[_rows(x) for x in ["1M", "2M", "5M", "10M", "20M", "50M", "100M"]],
    )
    parser.add_argument("--rerun", action="store_true", help="forget the steps measured before")
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
    args.dir = str(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "generated.json"
    started = time.perf_counter()
    if marker.exists() and json.loads(marker.read_text())["rows"] == args.rows:
        meta = json.loads(marker.read_text())
    else:
        for name in ("reference", "current", "workspace", "sample", "features"):
            shutil.rmtree(folder / name, ignore_errors=True)
        for name in ("results-duckdb", "results-dask", "check", "peers"):
            (folder / f"{name}.json").unlink(missing_ok=True)
        sizes = generate(folder, args.rows)
        ingest_features(folder, args.rows)
        meta = {"rows": args.rows, "sizes": sizes, "seconds": time.perf_counter() - started}
        marker.write_text(json.dumps(meta))
    if args.rerun:
        for engine in ENGINES:
            (folder / f"results-{engine}.json").unlink(missing_ok=True)
    print(f"data in {folder} ({meta['seconds']:.0f} s to generate)", flush=True)
    for step in [s for s in args.steps.split(",") if s]:
        for engine in args.engines.split(","):
            if step in _saved(folder, f"results-{engine}"):
                continue  # measured by an earlier invocation on the same data
            if args.deadline and time.time() >= args.deadline:
                continue  # left for a later invocation: reported as not run
            r = measure_step(step, engine, folder, args)
            _save(folder, f"results-{engine}", step, r)
            print(step, engine, r, flush=True)
    check_rows = min(args.rows, 5_000_000) if args.check_rows is None else args.check_rows
    if check_rows and _saved(folder, "check").get("rows") != check_rows:
        check = sample_check(folder, check_rows)
        (folder / "check.json").write_text(json.dumps(check, indent=1))
        print("sample check:", check, flush=True)
    if args.peers:
        run_peers(folder, args)
    command = "python benchmarks/bench_out_of_core.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    text = section(command.strip(), args, meta)
    print(text)
    if not args.no_write:
        sys.path.insert(0, str(HERE))
        from _results import write_section

        write_section("bench_out_of_core", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
