"""Per-call costs where users work (issue 18, item 3), side by side with MLflow in one process.

Run from the repository root (needs ``pip install -e ".[bench]"``)::

    python benchmarks/bench_costs.py                  # every case, ~3-5 minutes
    python benchmarks/bench_costs.py --only track     # one case (git, registry, track, text, keys)
    PYTHONPATH=/path/to/old/src python benchmarks/bench_costs.py --no-write   # "before" numbers

Cases:

git       one run (start, 10 params, 10 metrics, a text artifact, end) in a fresh directory
          and in a dirty shallow clone of this repository (one tracked file modified), nbmlops
          and MLflow interleaved; plus ``git_state()`` alone.
registry  ``register_model`` and ``load_model`` of a 100-tree and a 300-tree random forest
          fitted on 20,000 x 20, in a fresh directory and in the dirty clone, against MLflow's
          ``log_model(registered_model_name=...)`` given its ``pip_requirements`` (so it does
          not infer them) and ``mlflow.sklearn.load_model``.
track     ``%%track`` overhead in one IPython shell: the same cell with and without the magic,
          for a trivial cell, a cell reading a 2,000,000-row frame (its mean) and a
          RandomForest fit; median of repetitions (the frame is seen unchanged after the first).
text      2,000 ``log_text`` calls in one run, against MLflow's ``log_text``.
keys      ``run_keys()`` (what the panel reads after every tracked cell) over ``--runs`` runs.
imports   ``import nbmlops.tracking`` against ``import mlflow`` in fresh interpreters: wall
          time and CPU time (user + system; less sensitive to a busy machine), median.

Targets (issue 18): a run >= 10x faster than MLflow in and outside git; ``register_model`` <=
1/2 and ``load_model`` <= MLflow's; ``%%track`` adds <= 20 ms to the 2M-row cell; 2,000
``log_text`` at least as fast as MLflow. Results go to ``benchmarks/RESULTS.md``
(``--no-write`` to skip). The numbers depend on the load of the machine: compare runs made
back to back.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
REPO = Path(__file__).resolve().parent.parent
PARAMS = {f"param_{i}": i * 0.5 for i in range(10)}
METRICS = {f"metric_{i}": 1.0 / (i + 1) for i in range(10)}


def quiet() -> None:
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def median_time(fn: Callable[[], object], reps: int) -> float:
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def dirty_clone(tmp: Path) -> Path:
    """A shallow clone of this repository with one tracked file modified."""
    clone = tmp / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", REPO.as_uri(), str(clone)],
        check=True,
        capture_output=True,
    )
    readme = clone / "README.md"
    readme.write_text(readme.read_text() + "\nlocal edit\n")
    return clone


class Tools:
    """nbmlops and MLflow, both with their stores under ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        import mlflow

        import nbmlops

        quiet()
        self.nb, self.mlflow = nbmlops, mlflow
        # An untracked folder of its own: this repository tracks an mlflow.db and mlruns/
        # (test fixtures), and writing those would make every run see a changed work tree.
        stores = workdir / "bench-stores"
        stores.mkdir(exist_ok=True)
        nbmlops.configure(home=str(stores / "nbmlops"), reset=True)
        mlflow.set_tracking_uri(f"sqlite:///{stores / 'mlflow.db'}")
        name = f"bench-{workdir.name}"
        if mlflow.get_experiment_by_name(name) is None:
            mlflow.create_experiment(name, artifact_location=(stores / "mlruns").as_uri())
        mlflow.set_experiment(name)

    def nb_run(self) -> None:
        with self.nb.start_run(name="small") as run:
            run.log_params(PARAMS)
            run.log_metrics(METRICS)
            run.log_text("hello", "note.txt")

    def ml_run(self) -> None:
        with self.mlflow.start_run(run_name="small"):
            self.mlflow.log_params(PARAMS)
            self.mlflow.log_metrics(METRICS)
            self.mlflow.log_text("hello", "note.txt")


def in_dir(path: Path, fn: Callable[[], object]) -> object:
    home = Path.cwd()
    os.chdir(path)
    try:
        return fn()
    finally:
        os.chdir(home)


def case_git(tmp: Path, reps: int) -> list[str]:
    from nbmlops.tracking.environment import git_state

    clone = dirty_clone(tmp)
    plain = tmp / "plain"
    plain.mkdir()
    rows = []
    for label, where in (("outside git", plain), ("dirty git clone", clone)):

        def measure(where: Path = where) -> tuple[float, float, float]:
            tools = Tools(where)
            tools.nb_run()
            tools.ml_run()  # warm-up: schema creation, first-run caches
            nb, ml = [], []
            for _ in range(reps):
                for fn, out in ((tools.nb_run, nb), (tools.ml_run, ml)):
                    start = time.perf_counter()
                    fn()
                    out.append(time.perf_counter() - start)
            git_s = median_time(git_state, reps)
            return statistics.median(nb), statistics.median(ml), git_s

        nb, ml, git_s = in_dir(where, measure)
        rows.append(f"| one run, {label} | {fmt(nb)} | {fmt(ml)} | {ml / nb:.1f}x | {fmt(git_s)} |")
        print(rows[-1], flush=True)
    return [
        f"### One run (10 params, 10 metrics, a text artifact), median of {reps}",
        "",
        "| case | nbmlops | MLflow | ratio | `git_state()` alone |",
        "|---|---:|---:|---:|---:|",
        *rows,
    ]


def forest(trees: int):
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_classification(n_samples=20_000, n_features=20, random_state=0)
    return RandomForestClassifier(n_estimators=trees, random_state=0, n_jobs=-1).fit(X, y)


def case_registry(tmp: Path, reps: int) -> list[str]:
    import mlflow.sklearn

    clone = tmp / "clone" if (tmp / "clone").exists() else dirty_clone(tmp)
    plain = tmp / "plain-registry"
    plain.mkdir(exist_ok=True)
    requirements = ["scikit-learn", "numpy", "scipy"]
    rows = []
    for trees in (100, 300):
        model = forest(trees)
        for label, where in (("outside git", plain), ("dirty git clone", clone)):

            def measure(
                where: Path = where, model=model, trees: int = trees, label: str = label
            ) -> tuple[float, ...]:
                tools = Tools(where)
                nb_reg, ml_reg, nb_load, ml_load = [], [], [], []
                for i in range(reps):
                    start = time.perf_counter()
                    mv = tools.nb.register_model(model, f"forest{trees}")
                    nb_reg.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    with tools.mlflow.start_run():
                        info = mlflow.sklearn.log_model(
                            model,
                            name="model",
                            registered_model_name=f"forest{trees}",
                            pip_requirements=requirements,
                            # MLflow 3 saves with skops too and asks which types to trust.
                            skops_trusted_types=["sklearn.tree._tree.Tree"],
                        )
                    ml_reg.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    tools.nb.load_model(f"models:/forest{trees}/{mv.version}")
                    nb_load.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    mlflow.sklearn.load_model(info.model_uri)
                    ml_load.append(time.perf_counter() - start)
                    print(f"  {trees} trees, {label}, rep {i}", flush=True)
                return tuple(statistics.median(s) for s in (nb_reg, ml_reg, nb_load, ml_load))

            nb_reg, ml_reg, nb_load, ml_load = in_dir(where, measure)
            rows.append(
                f"| {trees} trees, {label} | {fmt(nb_reg)} | {fmt(ml_reg)} | "
                f"{nb_reg / ml_reg:.2f} | {fmt(nb_load)} | {fmt(ml_load)} | "
                f"{nb_load / ml_load:.2f} |"
            )
            print(rows[-1], flush=True)
    return [
        f"### Registry: random forest on 20,000 x 20, median of {reps} (first call included)",
        "",
        "| model | register nbmlops | register MLflow | nbmlops / MLflow | load nbmlops | "
        "load MLflow | nbmlops / MLflow |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]


TRACK_CELLS = {
    "trivial cell": "x = 1 + 1",
    "2M-row frame, mean": "m = frame['a'].mean()",
    "RandomForest fit (50 trees, 5k x 10)": "rf = RandomForestClassifier(n_estimators=50, "
    "random_state=0).fit(X, y)",
}


def case_track(tmp: Path, reps: int) -> list[str]:
    import numpy as np
    import pandas as pd
    from IPython.testing.globalipapp import start_ipython
    from sklearn.datasets import make_classification

    import nbmlops

    shell = start_ipython()
    nbmlops.configure(home=str(tmp / "track"), reset=True)
    shell.run_line_magic("load_ext", "nbmlops")
    rng = np.random.default_rng(0)
    X, y = make_classification(n_samples=5000, n_features=10, random_state=0)
    shell.user_ns.update(
        frame=pd.DataFrame(rng.random((2_000_000, 5)), columns=list("abcde")),
        X=X,
        y=y,
    )
    shell.run_cell("from sklearn.ensemble import RandomForestClassifier")
    rows = []
    for label, code in TRACK_CELLS.items():
        plain = median_time(lambda code=code: shell.run_cell(code, silent=True), reps)
        first = time.perf_counter()
        shell.run_cell(f"%%track\n{code}", silent=True)
        first = time.perf_counter() - first
        tracked = median_time(
            lambda code=code: shell.run_cell(f"%%track\n{code}", silent=True), reps
        )
        rows.append(
            f"| {label} | {fmt(plain)} | {fmt(tracked)} | {fmt(tracked - plain)} | {fmt(first)} |"
        )
        print(rows[-1], flush=True)
    return [
        f"### `%%track` overhead in one IPython shell, median of {reps}",
        "",
        "| cell | plain | with `%%track` | overhead | first `%%track` run |",
        "|---|---:|---:|---:|---:|",
        *rows,
    ]


def case_text(tmp: Path, n: int) -> list[str]:
    where = tmp / "plain-text"
    where.mkdir()
    tools = Tools(where)
    start = time.perf_counter()
    with tools.nb.start_run(name="texts") as run:
        for i in range(n):
            run.log_text(f"text {i}", f"texts/{i}.txt")
    nb = time.perf_counter() - start
    assert len(run.artifacts) == n
    start = time.perf_counter()
    with tools.mlflow.start_run(run_name="texts"):
        for i in range(n):
            tools.mlflow.log_text(f"text {i}", f"texts/{i}.txt")
    ml = time.perf_counter() - start
    row = f"| {n:,} `log_text` in one run | {fmt(nb)} | {fmt(ml)} | {ml / nb:.1f}x |"
    print(row, flush=True)
    return [
        "### Artifact logging",
        "",
        "| case | nbmlops | MLflow | ratio |",
        "|---|---:|---:|---:|",
        row,
    ]


_IMPORT_PROBE = """
import resource, sys, time
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
__import__(sys.argv[1])
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - t0, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
"""


def import_seconds(module: str, reps: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``import module`` in ``reps`` fresh interpreters."""
    wall, cpu = [], []
    for _ in range(reps):
        done = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE, module],
            capture_output=True,
            text=True,
            check=True,
        )
        w, c = (float(x) for x in done.stdout.split())
        wall.append(w)
        cpu.append(c)
    return statistics.median(wall), statistics.median(cpu)


def case_imports(reps: int) -> list[str]:
    rows = []
    for label, module in (("nbmlops.tracking", "nbmlops.tracking"), ("mlflow", "mlflow")):
        wall, cpu = import_seconds(module, reps)
        rows.append(f"| `import {label}` | {fmt(wall)} | {fmt(cpu)} |")
        print(rows[-1], flush=True)
    return [
        f"### Import time in a fresh interpreter, median of {reps}",
        "",
        "| import | wall | CPU (user + system) |",
        "|---|---:|---:|",
        *rows,
    ]


def case_keys(tmp: Path, runs: int, reps: int) -> list[str]:
    import nbmlops
    from nbmlops.store import get_store

    nbmlops.configure(home=str(tmp / "keys"), reset=True)
    with nbmlops.start_run(name="seed"):
        pass
    store = get_store()
    _bulk_runs(store, runs)
    keys = median_time(store.meta.run_keys, reps)
    row = f"| `run_keys()` over {runs:,} runs | {fmt(keys)} |"
    print(row, flush=True)
    return ["### Panel refresh", "", "| case | nbmlops |", "|---|---:|", row]


def _bulk_runs(store, runs: int) -> None:
    """``runs`` finished runs with 10 params, 10 metrics and 2 tags each, written in bulk."""
    from nbmlops.store import _schema as t

    now = time.time()
    with store.meta.engine.begin() as conn:
        exp = conn.execute(t.experiments.select()).first().experiment_id
        for start in range(0, runs, 5000):
            ids = [f"bulk{i:028d}" for i in range(start, min(runs, start + 5000))]
            conn.execute(
                t.runs.insert(),
                [
                    {
                        "run_id": r,
                        "experiment_id": exp,
                        "name": r,
                        "status": "FINISHED",
                        "start_time": now,
                        "end_time": now,
                        "heartbeat_at": now,
                    }
                    for r in ids
                ],
            )
            conn.execute(
                t.params.insert(),
                [{"run_id": r, "key": f"p{k}", "value": str(k)} for r in ids for k in range(10)],
            )
            conn.execute(
                t.latest_metrics.insert(),
                [
                    {"run_id": r, "key": f"m{k}", "value": 0.5, "step": 0, "timestamp": now}
                    for r in ids
                    for k in range(10)
                ],
            )
            conn.execute(
                t.tags.insert(),
                [{"run_id": r, "key": f"t{k}", "value": "x"} for r in ids for k in range(2)],
            )
    writer = getattr(store.meta, "rebuild_run_keys", None)
    if writer is not None:  # stores that keep a keys table (schema 9+)
        writer()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=["git", "registry", "track", "text", "keys", "imports"],
    )
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    cases = args.only or ["git", "registry", "track", "text", "keys", "imports"]
    import nbmlops

    lines = [
        "## Per-call costs: nbmlops vs MLflow (issue 18)",
        "",
        "Made by `benchmarks/bench_costs.py`; command:",
        "",
        "```",
        shlex.join(["python", "benchmarks/bench_costs.py", *argv]),
        "```",
        "",
        f"- nbmlops from {Path(nbmlops.__file__).parent}; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when it started",
        "",
    ]
    home = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="nbmlops-costs-") as tmp_name:
        tmp = Path(tmp_name).resolve()
        os.chdir(tmp)  # outside any git repository unless a case says otherwise
        if "git" in cases:
            lines += [*case_git(tmp, args.reps), ""]
        if "registry" in cases:
            lines += [*case_registry(tmp, max(3, args.reps // 5)), ""]
        if "track" in cases:
            lines += [*case_track(tmp, args.reps), ""]
        if "text" in cases:
            lines += [*case_text(tmp, args.texts), ""]
        if "keys" in cases:
            lines += [*case_keys(tmp, args.runs, args.reps), ""]
        if "imports" in cases:
            lines += [*case_imports(max(5, args.reps)), ""]
        os.chdir(home)  # the folder is removed next; IPython's exit hook reads the cwd
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("bench_costs", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
