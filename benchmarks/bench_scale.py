"""Run queries at scale: 10k, 100k and 1M runs on SQLite and PostgreSQL, side by side with
MLflow's ``search_runs`` on the same runs in its SQLite store (issue 18, Done-when 1).

Each run has 10 params, 10 metrics (one value each: ``metrics`` and ``latest_metrics``) and 2
tags. Workspaces are built by bulk insertion straight into each store's tables (nbmlops: its
schema created by nbmlops itself, then rows inserted in chunks of 20,000 runs, PostgreSQL
through COPY; MLflow: its schema created by ``SqlAlchemyStore``, then rows inserted into its
tables with SQLAlchemy Core). For both, the tables' secondary indexes are dropped before
the load and created again after it (the same indexes, built once). Logging a million runs through either API would take hours and
measures something else (bench_tracking.py does).

Measured, per size and backend:

- first page with a filter and an order: ``nbmlops.runs(filter=FILTER, order_by=ORDER,
  limit=25)`` vs ``MlflowClient().search_runs([exp], FILTER, order_by=[ORDER],
  max_results=25)``; median of 5 after one warm-up, in a fresh process per tool (MLflow's at
  1M in a subprocess with a time limit);
- peak memory (max RSS) of that fresh process, import included;
- ``nbmlops runs ls`` (50 rows): the whole command's wall time from a fresh process;
- growth from the smallest size to the largest. CPU times (user + system) are given beside wall
  times: on a busy machine they say more.

One command (PostgreSQL needs a server; the database ``jsql_bench_<size>`` is created and
replaced)::

    python benchmarks/bench_scale.py --postgres postgresql://postgres@127.0.0.1:55432/postgres
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

FILTER = "metrics.m0 > 0.5 and params.p0 = 'a'"
ORDER = "metrics.m1 DESC"
CHUNK = 20_000
PARAMS, METRICS = 10, 10
EXPERIMENT = "scale"


def fake_chunk(start: int, count: int, seed: int) -> list[dict]:
    rng = random.Random(seed * 1_000_003 + start)
    t0 = 1.7e9
    out = []
    for i in range(start, start + count):
        begin = t0 + i * 2.0
        params = {"p0": rng.choice("abcd"), "p1": rng.randint(1, 500), "p2": rng.random()}
        params.update({f"p{k}": rng.choice([0.01, 0.1, 1.0, "x", True]) for k in range(3, PARAMS)})
        out.append(
            {
                "id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "name": f"trial-{i:07d}",
                "start": begin,
                "end": begin + rng.uniform(1, 30),
                "params": params,
                "metrics": {f"m{k}": rng.random() for k in range(METRICS)},
                "tags": {"team": rng.choice(["risk", "growth"]), "stage": "tuning"},
            }
        )
    return out


# -- building -----------------------------------------------------------------------------------

_TABLES = ("runs", "params", "metrics", "latest_metrics", "tags")


def drop_indexes(conn, tables=_TABLES) -> list[str]:
    """Drop the secondary indexes of ``tables`` and return the DDL that recreates them: a bulk
    load then builds each index once instead of updating it row by row."""
    names = ", ".join(f"'{t}'" for t in tables)
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND "
            f"tablename IN ({names}) AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        ).all()
    else:
        rows = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({names})"
        ).all()
    for name, _ in rows:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [ddl for _, ddl in rows]


def build_nbmlops(url: str, home: Path, n: int) -> None:
    env = {"NBMLOPS_HOME": str(home), "NBMLOPS_STORE_URL": url}
    os.environ.update(env)
    import nbmlops
    from nbmlops.store import _schema as t
    from nbmlops.store import get_store

    nbmlops.configure(reset=True)
    store = get_store(nbmlops.get_settings())
    engine = store.meta.engine
    with engine.begin() as conn:
        conn.execute(t.experiments.insert().values(name=EXPERIMENT, created_at=time.time()))
        experiment_id = conn.execute(
            t.experiments.select().where(t.experiments.c.name == EXPERIMENT)
        ).first()[0]
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        indexes = drop_indexes(conn)
    for start in range(0, n, CHUNK):
        runs = fake_chunk(start, min(CHUNK, n - start), seed=1)
        rows = {
            "runs": [
                (r["id"], experiment_id, r["name"], "FINISHED", r["start"], r["end"], r["end"])
                for r in runs
            ],
            "params": [
                (r["id"], k, json.dumps(v, ensure_ascii=False))
                for r in runs
                for k, v in r["params"].items()
            ],
            "metrics": [
                (r["id"], k, v, 0, r["end"]) for r in runs for k, v in r["metrics"].items()
            ],
            "tags": [(r["id"], k, v) for r in runs for k, v in r["tags"].items()],
        }
        columns = {
            "runs": (
                "run_id",
                "experiment_id",
                "name",
                "status",
                "start_time",
                "end_time",
                "heartbeat_at",
            ),
            "params": ("run_id", "key", "value"),
            "metrics": ("run_id", "key", "value", "step", "timestamp"),
            "latest_metrics": ("run_id", "key", "value", "step", "timestamp"),
            "tags": ("run_id", "key", "value"),
        }
        rows["latest_metrics"] = rows["metrics"]
        with engine.begin() as conn:
            for table in ("runs", "params", "metrics", "latest_metrics", "tags"):
                cols = columns[table]
                if pg:
                    cursor = conn.connection.driver_connection.cursor()
                    with cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        for row in rows[table]:
                            copy.write_row(row)
                else:  # the driver's executemany over tuples: no per-row SQLAlchemy work
                    marks = ", ".join("?" for _ in cols)
                    conn.exec_driver_sql(
                        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows[table]
                    )
    with engine.begin() as conn:
        for ddl in indexes:
            conn.exec_driver_sql(ddl)
    store.meta.rebuild_run_keys()
    if pg:  # what autovacuum does after a bulk load; SQLite stores are measured as written
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    nbmlops.configure(reset=True)


def build_mlflow(path: Path, n: int) -> str:
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    from mlflow.store.tracking.dbmodels import models as m
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    uri = f"sqlite:///{path}"
    store = SqlAlchemyStore(uri, (path.parent / "mlruns").as_uri())
    experiment_id = store.create_experiment(EXPERIMENT)
    ms = lambda s: int(s * 1000)  # noqa: E731

    def insert(conn, table, rows: list[dict]) -> None:
        cols = list(rows[0])
        marks = ", ".join("?" for _ in cols)
        sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({marks})"
        conn.exec_driver_sql(sql, [tuple(r.values()) for r in rows])

    with store.engine.begin() as conn:
        indexes = drop_indexes(conn, ("runs", "params", "metrics", "latest_metrics", "tags"))
        for start in range(0, n, CHUNK):
            runs = fake_chunk(start, min(CHUNK, n - start), seed=1)
            insert(
                conn,
                m.SqlRun.__table__,
                [
                    dict(
                        run_uuid=r["id"],
                        name=r["name"],
                        source_type="LOCAL",
                        source_name="bench",
                        entry_point_name="",
                        user_id="bench",
                        status="FINISHED",
                        start_time=ms(r["start"]),
                        end_time=ms(r["end"]),
                        source_version="",
                        lifecycle_stage="active",
                        artifact_uri=f"file:///tmp/mlruns/{r['id']}",
                        experiment_id=int(experiment_id),
                    )
                    for r in runs
                ],
            )
            insert(
                conn,
                m.SqlParam.__table__,
                [
                    dict(key=k, value=str(v), run_uuid=r["id"])
                    for r in runs
                    for k, v in r["params"].items()
                ],
            )
            metric_rows = [
                dict(key=k, value=v, timestamp=ms(r["end"]), step=0, is_nan=False, run_uuid=r["id"])
                for r in runs
                for k, v in r["metrics"].items()
            ]
            insert(conn, m.SqlMetric.__table__, metric_rows)
            insert(conn, m.SqlLatestMetric.__table__, metric_rows)
            insert(
                conn,
                m.SqlTag.__table__,
                [
                    dict(key=k, value=v, run_uuid=r["id"])
                    for r in runs
                    for k, v in {**r["tags"], "mlflow.runName": r["name"]}.items()
                ],
            )
        for ddl in indexes:
            conn.exec_driver_sql(ddl)
    store.engine.dispose()
    return experiment_id


# -- measuring (each in a fresh process) ---------------------------------------------------------

_NBMLOPS_PAGE = """
import json, statistics, sys, time
t0 = time.perf_counter()
import nbmlops
times, cpus = [], []
for _ in range(6):
    start, cpu = time.perf_counter(), time.process_time()
    frame = nbmlops.runs(filter=sys.argv[1], order_by=sys.argv[2], limit=25)
    times.append(time.perf_counter() - start)
    cpus.append(time.process_time() - cpu)
assert len(frame) == 25, len(frame)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"first": times[0], "median": statistics.median(times[1:]),
                  "cpu": statistics.median(cpus[1:]), "rss_mb": int(hwm.split()[1]) / 1024}))
"""

_MLFLOW_PAGE = """
import json, logging, os, statistics, sys, time
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
logging.getLogger("mlflow").setLevel(logging.ERROR)
import mlflow
client = mlflow.MlflowClient(sys.argv[3])
times = []
for _ in range(int(sys.argv[5])):
    start = time.perf_counter()
    runs = client.search_runs([sys.argv[4]], sys.argv[1], order_by=[sys.argv[2]], max_results=25)
    times.append(time.perf_counter() - start)
assert len(runs) == 25, len(runs)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"first": times[0], "median": statistics.median(times[1:] or times),
                  "rss_mb": int(hwm.split()[1]) / 1024}))
"""


def _env(url: str, home: Path) -> dict:
    return {**os.environ, "NBMLOPS_HOME": str(home), "NBMLOPS_STORE_URL": url}


def measure_nbmlops(url: str, home: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _NBMLOPS_PAGE, FILTER, ORDER],
        env=_env(url, home),
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    import resource

    walls, cpus = [], []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "nbmlops", "runs", "ls"],
            env=_env(url, home),
            capture_output=True,
            text=True,
            check=True,
        )
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    result["runs_ls"] = sorted(walls)[1]
    result["runs_ls_cpu"] = sorted(cpus)[1]
    return result


def measure_mlflow(db: Path, experiment_id: str, timeout: float, repeat: int) -> dict | None:
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                _MLFLOW_PAGE,
                FILTER,
                ORDER,
                f"sqlite:///{db}",
                experiment_id,
                str(repeat),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    return json.loads(out.stdout)


# -- report -------------------------------------------------------------------------------------


def _s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def report(results: dict, sizes: list[int], command: str) -> str:
    from importlib.metadata import version

    lines = [
        "## Run queries at scale: nbmlops (SQLite, PostgreSQL) vs MLflow's search_runs",
        "",
        f"Made by `benchmarks/bench_scale.py` with `{command}` on "
        f"{platform.machine()} Linux, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"MLflow {version('mlflow')}, SQLAlchemy {version('sqlalchemy')}. **The machine was "
        "busy** (a shared 2-core box running other jobs): absolute times are noisy, up to 2x.",
        "",
        f"Each run: 10 params, 10 metrics, 2 tags, one experiment. First page: filter "
        f"`{FILTER}`, order `{ORDER}`, 25 rows; median of 5 after one warm-up in a fresh "
        "process (first call in brackets), peak memory = max RSS of that process, import "
        "included. `runs ls`: the whole `nbmlops runs ls` command (50 rows, newest first) "
        "from a fresh process, median of 3. Built by bulk insertion into each store's "
        "tables (see the script's docstring); PostgreSQL ANALYZEd after loading (autovacuum "
        "would), SQLite stores measured as written.",
        "",
        "| runs | backend | first page (filter + order) | its CPU time | peak memory | "
        "`runs ls` | its CPU time | MLflow search_runs | MLflow peak memory | "
        "MLflow / nbmlops |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in sizes:
        theirs = results.get(f"mlflow/{n}")
        for backend in ("sqlite", "postgres"):
            ours = results.get(f"{backend}/{n}")
            if ours is None:
                continue
            mlflow_cell, mem_cell, ratio = "—", "—", "—"
            if theirs and "timeout" in theirs:
                mlflow_cell = f"> {theirs['timeout']:.0f} s (stopped)"
            elif theirs:
                mlflow_cell = f"{_s(theirs['median'])} ({_s(theirs['first'])})"
                mem_cell = f"{theirs['rss_mb']:.0f} MB"
                ratio = f"{theirs['median'] / ours['median']:.1f}x"
            lines.append(
                f"| {n:,} | {backend} | {_s(ours['median'])} ({_s(ours['first'])}) | "
                f"{_s(ours['cpu'])} | {ours['rss_mb']:.0f} MB | {_s(ours['runs_ls'])} | "
                f"{_s(ours['runs_ls_cpu'])} | {mlflow_cell} | {mem_cell} | {ratio} |"
            )
    lo, hi = min(sizes), max(sizes)
    lines += ["", f"Growth from {lo:,} to {hi:,} runs (time at {hi:,} / time at {lo:,}):", ""]
    for backend in ("sqlite", "postgres"):
        a, b = results.get(f"{backend}/{lo}"), results.get(f"{backend}/{hi}")
        if a and b and lo != hi:
            lines.append(
                f"- {backend}: first page {b['median'] / a['median']:.1f}x "
                f"(CPU time {b['cpu'] / a['cpu']:.1f}x), "
                f"`runs ls` {b['runs_ls'] / a['runs_ls']:.1f}x "
                f"(CPU time {b['runs_ls_cpu'] / a['runs_ls_cpu']:.1f}x), "
                f"peak memory {b['rss_mb'] / a['rss_mb']:.2f}x"
            )
    a, b = results.get(f"mlflow/{lo}"), results.get(f"mlflow/{hi}")
    if a and b and "median" in a and "median" in b and lo != hi:
        lines.append(f"- MLflow search_runs: {b['median'] / a['median']:.1f}x")
    top = [results.get(f"{k}/{hi}") for k in ("sqlite", "postgres")]
    lines += [
        "",
        "Targets at the largest size: first page ≤ 0.3 s, `runs ls` ≤ 1 s, peak memory ≤ 200 MB: "
        + "; ".join(
            f"{k} {_s(r['median'])} / {_s(r['runs_ls'])} / {r['rss_mb']:.0f} MB"
            for k, r in zip(("sqlite", "postgres"), top, strict=True)
            if r
        )
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--postgres", default=None, help="server URL (omit: SQLite only)")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--mlflow-timeout", type=float, default=600.0)
    parser.add_argument(
        "--mlflow-max", type=int, default=1_000_000, help="no MLflow store above this size"
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/nbmlops-bench-scale"))
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument("--json", type=Path, default=None, help="also save the numbers here")
    parser.add_argument(
        "--report-only", type=Path, default=None, help="write the report of a saved --json"
    )
    parser.add_argument("--note", default="", help="a paragraph added below the numbers")
    parser.add_argument("--command", default=None, help="the command shown (--report-only)")
    args = parser.parse_args()
    from sqlalchemy import create_engine, make_url, text

    results: dict[str, dict] = {}
    if args.report_only:
        results = json.loads(args.report_only.read_text())
        args.sizes = sorted({int(k.split("/")[1]) for k in results})
    for n in args.sizes if not args.report_only else []:
        folder = args.workdir / str(n)
        folder.mkdir(parents=True, exist_ok=True)
        targets = {"sqlite": f"sqlite:///{folder / 'nbmlops.db'}"}
        if args.postgres:
            admin_url = make_url(args.postgres).set(drivername="postgresql+psycopg")
            name = f"jsql_bench_{n}"
            admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            targets["postgres"] = admin_url.set(database=name).render_as_string(False)
        for backend, url in targets.items():
            if backend == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{folder / 'nbmlops.db'}{suffix}").unlink(missing_ok=True)
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--_build", url, str(folder / backend), str(n)],
                check=True,
            )
            print(
                f"{n:,} runs on {backend}: built in {time.perf_counter() - start:.0f} s", flush=True
            )
            results[f"{backend}/{n}"] = measure_nbmlops(url, folder / backend)
            print(f"  {results[f'{backend}/{n}']}", flush=True)
        if not args.no_mlflow and n <= args.mlflow_max:
            db = folder / "mlflow.db"
            db.unlink(missing_ok=True)
            start = time.perf_counter()
            experiment_id = build_mlflow(db, n)
            print(f"{n:,} runs in MLflow: built in {time.perf_counter() - start:.0f} s", flush=True)
            repeat = 6 if n <= 100_000 else 2
            results[f"mlflow/{n}"] = measure_mlflow(db, experiment_id, args.mlflow_timeout, repeat)
            print(f"  {results[f'mlflow/{n}']}", flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    command = "python benchmarks/bench_scale.py " + " ".join(
        "<server url>" if a.startswith("postgresql") else a for a in sys.argv[1:]
    )
    text_ = report(results, args.sizes, (args.command or command).strip())
    if args.note:
        text_ += "\n" + args.note.strip() + "\n"
    print(text_)
    if not args.no_write:
        from _results import write_section

        write_section("bench_scale", text_)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--_build":
        build_nbmlops(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
        sys.exit(0)
    sys.exit(main())
