"""Serving: ``nbmlops serve`` against ``mlflow models serve``, side by side in one run.

Run from the repository root::

    python benchmarks/bench_serving.py             # about 5 minutes
    python benchmarks/bench_serving.py --quick     # shorter load, 1M-row batch scoring
    python benchmarks/bench_serving.py --check     # exit 1 if a target is missed

The same scikit-learn pipeline (StandardScaler + LogisticRegression on breast_cancer, 30
float columns) is registered in nbmlops and saved as an MLflow model; each server runs with the
same number of uvicorn workers (``--workers``, default 1). Load comes from ``wrk`` (Debian's
package: ``apt-get install wrk``), 8 connections, 2 threads, posting MLflow's
``dataframe_split`` JSON with 1 row and with 100 rows per request. nbmlops runs as users run
it: every prediction goes to the prediction log. Then five pairs of 1-row runs: the champion
alone, then with a shadow rollout of a second version (the candidate scores a copy of every
request off the response path, in batches), the rollout aborted after each pair; the shadow's
cost is the median p50 with it over the median p50 without it (interleaved, so the machine's
drift over the run stays out of the ratio). Each run records the machine's load average.
Last, ``nbmlops score`` streams a generated Parquet file of ``--batch-rows`` rows (10M by
default) and its peak memory (max RSS of the process) is recorded.

Targets (issue 15): nbmlops ≥ 3× MLflow's requests/s and ≤ 1/3 of its p99; shadow adds ≤ 10 %
to the champion's p50; batch scoring of 10M rows under 2 GiB. Results go to
``benchmarks/RESULTS.md`` (``--no-write`` to skip).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _results import write_section  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {timeout:g} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the server process and its children so far."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return float("nan")
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def run_wrk(
    url: str, body_file: Path, seconds: int, connections: int = 8, pid: int | None = None
) -> dict:
    """Requests/s and latency percentiles (ms) of ``wrk`` posting ``body_file`` to ``url``;
    with ``pid``, also the server's CPU milliseconds per request (less sensitive to what
    else the machine runs than its latency)."""
    script = body_file.with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"local f = io.open({json.dumps(str(body_file))}, 'rb')\n"
        "wrk.body = f:read('*a')\nf:close()\n"
        "done = function(summary, latency, requests)\n"
        "  io.write(string.format('ERRORS %d %d\\n', summary.errors.status, "
        "summary.errors.connect + summary.errors.read + summary.errors.write + "
        "summary.errors.timeout))\nend\n"
    )
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    cpu_before = server_cpu_seconds(pid) if pid else None
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu = server_cpu_seconds(pid) - cpu_before if pid else None
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    requests = int(re.search(r"(\d+) requests in", out)[1])
    pct = {
        m[1]: float(m[2]) * _UNIT[m[3]]
        for m in re.finditer(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    }
    errors = re.search(r"ERRORS (\d+) (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": pct.get("50"),
        "p99_ms": pct.get("99"),
        "non_2xx": int(errors[1]),
        "socket_errors": int(errors[2]),
        "load": os.getloadavg()[0],  # the machine's 1-minute load as the run ended
        "cpu_ms": cpu / requests * 1000 if cpu is not None and requests else None,
    }


def setup(workdir: Path) -> dict:
    """Train, register (nbmlops) and save (MLflow) the same pipeline; write request bodies."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import nbmlops

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    other = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000)).fit(X, y)
    v1 = nbmlops.register_model(model, "bench", input_example=X.head(50), reference=X)
    nbmlops.register_model(other, "bench", input_example=X.head(50), reference=X)
    nbmlops.promote("bench", v1.version)

    import mlflow.sklearn

    mlflow_path = workdir / "mlflow_model"
    mlflow.sklearn.save_model(model, str(mlflow_path), input_example=X.head(5))
    bodies = {}
    for rows in (1, 100):
        sample = X.head(rows)
        path = workdir / f"body_{rows}.json"
        path.write_text(
            json.dumps({"dataframe_split": json.loads(sample.to_json(orient="split", index=False))})
        )
        bodies[rows] = path
    return {"mlflow_model": mlflow_path, "bodies": bodies, "columns": list(X.columns)}


def start_nbmlops(port: int, workers: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nbmlops",
            "serve",
            "bench",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--poll",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_mlflow(model: Path, port: int, workers: int, env: dict) -> subprocess.Popen:
    mlflow_cli = shutil.which("mlflow") or "mlflow"
    return subprocess.Popen(
        [
            mlflow_cli,
            "models",
            "serve",
            "-m",
            str(model),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "--env-manager",
            "local",
            "-w",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def batch_memory(rows: int, workdir: Path, columns: list[str], env: dict) -> dict:
    """Peak RSS of ``nbmlops score`` over a generated file of ``rows`` rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = workdir / "batch_in.parquet"
    rng = np.random.default_rng(0)
    chunk = 500_000
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        table = pa.table({c: rng.normal(10, 3, n) for c in columns})
        writer = writer or pq.ParquetWriter(source, table.schema)
        writer.write_table(table, row_group_size=100_000)
    writer.close()
    code = (
        "import resource, sys, time; from nbmlops.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
        "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    started = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "score",
            "bench",
            str(source),
            "-o",
            str(workdir / "batch_out.parquet"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    kb = int(re.search(r"MAXRSS_KB (\d+)", out.stdout)[1])
    return {
        "rows": rows,
        "seconds": seconds,
        "peak_mib": kb / 1024,
        "input_mib": source.stat().st_size / 2**20,
    }


def shadow_cpu(copies: int = 200) -> dict:
    """CPU time per one-row shadow copy of the candidate (version 2), scored one by one (as
    before batching) and in the batches the server's shadow scorer makes: the load-independent
    part of what a shadow rollout takes from the champion."""
    from sklearn.datasets import load_breast_cancer

    from nbmlops.serving.models import load_version
    from nbmlops.serving.shadow import ShadowJob, ShadowScorer

    X, _ = load_breast_cancer(return_X_y=True, as_frame=True)
    candidate = load_version("bench", 2, False)
    frames = [X.iloc[[i % len(X)]] for i in range(copies)]

    def one_by_one():
        for frame in frames:
            candidate.predict(candidate.check(frame))

    def batched(rows: int):
        scorer = ShadowScorer(lambda *a: None, lambda *a: None, max_batch_rows=rows)
        for i, frame in enumerate(frames):
            scorer.submit(ShadowJob("bench", candidate, frame, (), [str(i)], str(i)))
        scorer.drain()

    out = {}
    for label, run in (
        ("one by one", one_by_one),
        ("batches of 20", lambda: batched(20)),
        ("batches of 200", lambda: batched(200)),
    ):
        run()  # warm
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            run()
            best = min(best, time.process_time() - started)
        out[label] = best / copies * 1000
    return out


def shadow_pairs(port: int, url: str, body: Path, seconds: int, pid: int, pairs: int = 5) -> list:
    """The champion alone, then with a shadow rollout of version 2, ``pairs`` times in turn
    (``seconds / 3`` each): the shadow's cost is the median p50 with it over the median
    without it. Interleaving keeps the machine's drift over the run out of the ratio: two
    back-to-back runs of the same server differ by up to 20 % here, which is also why there
    are five pairs. Each run also records the server's CPU time per request."""
    import urllib.request

    import nbmlops

    def in_rollout() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as h:
            return "rollout" in json.loads(h.read())["models"]["bench"]

    def wait(condition) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit("the server did not follow the rollout within 60 s")
            time.sleep(0.2)

    out = []
    each = max(6, seconds // 3)
    for i in range(pairs):
        alone = run_wrk(url, body, each, pid=pid)
        r = nbmlops.rollout("bench", candidate=2, mode="shadow", every="1d", min_requests=10**9)
        wait(in_rollout)
        shadowed = run_wrk(url, body, each, pid=pid)
        r.abort(reason="benchmark pair done")
        wait(lambda: not in_rollout())
        print(f"pair {i + 1}: alone {alone}, shadow {shadowed}", flush=True)
        out.append((alone, shadowed))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=int, default=None, help="wrk duration per run")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-rows", type=int, default=None)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    seconds = args.seconds or (10 if args.quick else 30)
    batch_rows = args.batch_rows or (1_000_000 if args.quick else 10_000_000)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="nbmlops-bench-serving-"))
    env = {
        **os.environ,
        "NBMLOPS_HOME": str(workdir / "workspace"),
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    for key in [k for k in env if k.startswith("NBMLOPS_") and k != "NBMLOPS_HOME"]:
        del env[key]
    os.environ.update({"NBMLOPS_HOME": env["NBMLOPS_HOME"]})
    prepared = setup(workdir)
    results: dict = {"nbmlops": {}, "mlflow": {}}
    results["shadow_cpu"] = shadow_cpu()
    print("shadow CPU ms per copy", results["shadow_cpu"], flush=True)

    servers = {
        "nbmlops": (start_nbmlops, "/health"),
        "mlflow": (lambda port, w, e: start_mlflow(prepared["mlflow_model"], port, w, e), "/ping"),
    }
    for tool, (start, health) in servers.items():
        port = free_port()
        proc = start(port, args.workers, env)
        try:
            wait_ready(f"http://127.0.0.1:{port}{health}", proc)
            url = f"http://127.0.0.1:{port}/invocations"
            run_wrk(url, prepared["bodies"][1], 3)  # warm-up
            for rows, body in prepared["bodies"].items():
                results[tool][rows] = run_wrk(url, body, seconds)
                print(tool, rows, results[tool][rows], flush=True)
            if tool == "nbmlops":
                results["pairs"] = shadow_pairs(port, url, prepared["bodies"][1], seconds, proc.pid)
        finally:
            stop(proc)
    results["batch"] = batch_memory(batch_rows, workdir, prepared["columns"], env)
    print("batch", results["batch"], flush=True)
    shutil.rmtree(workdir, ignore_errors=True)

    n, m = results["nbmlops"], results["mlflow"]
    checks = []
    for rows in (1, 100):
        checks.append(
            (
                f"{rows}-row requests/s ≥ 3× MLflow",
                n[rows]["rps"] >= 3 * m[rows]["rps"],
                f"{n[rows]['rps'] / m[rows]['rps']:.2f}×",
            )
        )
        checks.append(
            (
                f"{rows}-row p99 ≤ 1/3 of MLflow's",
                n[rows]["p99_ms"] <= m[rows]["p99_ms"] / 3,
                f"{n[rows]['p99_ms'] / m[rows]['p99_ms']:.2f}×",
            )
        )
    alone_p50 = statistics.median(a["p50_ms"] for a, _ in results["pairs"])
    shadow_p50 = statistics.median(s["p50_ms"] for _, s in results["pairs"])
    shadow_ratio = shadow_p50 / alone_p50
    checks.append(("shadow adds ≤ 10 % to p50", shadow_ratio <= 1.10, f"{shadow_ratio:.2f}×"))
    alone_cpu = statistics.median(a["cpu_ms"] for a, _ in results["pairs"])
    shadow_cpu_ms = statistics.median(s["cpu_ms"] for _, s in results["pairs"])
    batch_ok = results["batch"]["peak_mib"] < 2048
    checks.append(
        (
            f"batch scoring of {batch_rows:,} rows < 2 GiB",
            batch_ok,
            f"{results['batch']['peak_mib']:.0f} MiB",
        )
    )

    command = "python benchmarks/bench_serving.py" + "".join(
        f" {a}" for a in sys.argv[1:] if a not in ("--no-write",)
    )
    lines = [
        "## Serving: `nbmlops serve` vs `mlflow models serve` (`bench_serving.py`)",
        "",
        f"`{command}` on {dt.date.today()}, {platform.platform()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.1f}. Same scikit-learn pipeline (breast_cancer, 30 columns), "
        f"{args.workers} uvicorn worker(s) each, `wrk -t2 -c8 -d{seconds}s`, MLflow "
        "`dataframe_split` JSON; nbmlops logs every prediction.",
        "",
        "| server | rows/request | requests/s | p50 ms | p99 ms | non-2xx | socket errors "
        "| load after | server CPU ms/request |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows_shown = [
        (f"{tool}", rows, results[tool][rows])
        for tool in results
        if tool in ("nbmlops", "mlflow")
        for rows in (1, 100)
    ]
    for i, (alone, shadowed) in enumerate(results["pairs"], 1):
        rows_shown += [
            (f"nbmlops alone, pair {i}", 1, alone),
            (f"nbmlops + shadow rollout, pair {i}", 1, shadowed),
        ]
    for label, rows, r in rows_shown:
        lines.append(
            f"| {label} | {rows} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['non_2xx']} | {r['socket_errors']} | {r['load']:.1f} | "
            + (f"{r['cpu_ms']:.3f} |" if r.get("cpu_ms") is not None else "|")
        )
    b = results["batch"]
    lines += [
        "",
        f"Batch scoring (`nbmlops score`, logged): {b['rows']:,} rows "
        f"({b['input_mib']:.0f} MiB of Parquet) in {b['seconds']:.1f} s, peak RSS "
        f"{b['peak_mib']:.0f} MiB.",
        "",
        "CPU per one-row shadow copy (in process, best of 3): "
        + ", ".join(f"{k} {v:.3f} ms" for k, v in results["shadow_cpu"].items())
        + " (a server scores the copies that queued in half a second as one batch).",
        "",
        f"Server CPU per 1-row request over the pairs (median): alone {alone_cpu:.3f} ms, with "
        f"the shadow {shadow_cpu_ms:.3f} ms ({shadow_cpu_ms / alone_cpu:.2f}×).",
        "",
        "| target | met | value |",
        "| --- | --- | --- |",
        *[f"| {name} | {'yes' if ok else 'no'} | {value} |" for name, ok, value in checks],
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("bench_serving", text)
    if args.check and not all(ok for _, ok, _ in checks):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
