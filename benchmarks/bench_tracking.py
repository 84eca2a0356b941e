"""Tracking overhead: nbmlops against MLflow with a SQLite backend, in one process.

Run from the repository root (needs ``pip install -e ".[bench]"``)::

    python benchmarks/bench_tracking.py            # full run, about 2-3 minutes
    python benchmarks/bench_tracking.py --quick    # fewer repetitions
    python benchmarks/bench_tracking.py --check    # exit 1 if a target is missed

Cases, each tool with its defaults as a user gets them:

(a) one small run: start a run, log 10 params and 10 metrics (one call each), end the run;
    median and p90 of many repetitions, the two tools interleaved; once in a fresh directory
    and once in a dirty shallow clone of this repository (one tracked file edited), where both
    tools capture the git state.
(b) 10,000 ``log_metric(key, value, step=i)`` calls in one run, ending the run included
    (nbmlops buffers metrics and writes the rest when the run ends, so that is counted).
(c) import time in a fresh interpreter (median of several): ``import nbmlops`` only loads
    the package ``__init__`` (its public names are lazy), so ``import nbmlops.tracking``,
    which the first ``nbmlops.start_run`` pays, is reported as its own row; plus, for
    information, a cold start in a fresh process: import, then one run in an empty workspace
    (schema creation included).

Both tools work in a fresh temporary directory (the process ``chdir``s into it, so neither
captures the git state of this repository): nbmlops in ``<tmp>/nbmlops``, MLflow with
``sqlite:///<tmp>/mlflow.db`` and artifacts in ``<tmp>/mlruns``. One warm-up run per tool
comes first, so schema creation and first-run costs are excluded from (a) and (b).

Targets: (a) and (b) at least 10x faster than MLflow; import under 0.5 s. The results are
printed and written to ``benchmarks/RESULTS.md`` (``--no-write`` to skip).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

N_PARAMS = 10
N_METRICS = 10
N_STEPS = 10_000
SPEEDUP_TARGET = 10.0
IMPORT_TARGET_S = 0.5
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS, write_section  # noqa: E402

# MLflow 3 sends usage telemetry from background threads; keep the network out of the timings.
NO_TELEMETRY = {"MLFLOW_DISABLE_TELEMETRY": "true"}

PARAMS = {f"param_{i}": i * 0.5 for i in range(N_PARAMS)}
METRICS = {f"metric_{i}": 1.0 / (i + 1) for i in range(N_METRICS)}

IMPORT_CODE = {
    "import nbmlops": "import nbmlops",
    "import nbmlops.tracking": "import nbmlops.tracking",
    "import mlflow": "import mlflow",
}

COLD_NBMLOPS = """
import nbmlops
nbmlops.configure(home="ws", reset=True)
with nbmlops.start_run(name="cold"):
    nbmlops.log_params(PARAMS)
    nbmlops.log_metrics(METRICS)
"""

COLD_MLFLOW = """
import logging
import mlflow
logging.getLogger("mlflow").setLevel(logging.WARNING)
logging.getLogger("alembic").setLevel(logging.WARNING)
mlflow.set_tracking_uri("sqlite:///mlflow.db")
with mlflow.start_run(run_name="cold"):
    mlflow.log_params(PARAMS)
    mlflow.log_metrics(METRICS)
"""

TIMED = """
import time
_t = time.perf_counter()
{body}
print(time.perf_counter() - _t)
"""


@dataclass(frozen=True)
class Plan:
    """How many repetitions each case gets."""

    small_runs: int
    steps_nbmlops: int
    steps_mlflow: int
    imports: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        return cls(20, 3, 1, 3) if quick else cls(60, 5, 3, 5)


@dataclass(frozen=True)
class Row:
    """One line of a result table: nbmlops and MLflow timings in seconds."""

    label: str
    nbmlops_s: float
    mlflow_s: float | None  # None: no MLflow counterpart

    @property
    def ratio(self) -> float | None:
        return None if self.mlflow_s is None else self.mlflow_s / self.nbmlops_s


@dataclass(frozen=True)
class Target:
    """A goal the numbers are checked against."""

    name: str
    measured: str
    passed: bool


# -- the two tools ---------------------------------------------------------------------------


class NbmlopsTool:
    """nbmlops in its own workspace folder (SQLite + artifacts inside)."""

    name = "nbmlops"

    def __init__(self, workdir: Path) -> None:
        import nbmlops

        self.nb = nbmlops
        nbmlops.configure(home=str(workdir / "nbmlops"), reset=True)

    def small_run(self) -> str:
        with self.nb.start_run(name="small") as run:
            self.nb.log_params(PARAMS)
            self.nb.log_metrics(METRICS)
        return run.run_id

    def metric_loop(self, n: int) -> str:
        log_metric = self.nb.log_metric
        with self.nb.start_run(name="steps") as run:
            for i in range(n):
                log_metric("loss", 1.0 / (i + 1), step=i)
        return run.run_id

    def counts(self, run_id: str) -> tuple[int, int]:
        """(params, metric values) stored for ``run_id``."""
        run = self.nb.get_run(run_id)
        return len(run.params), len(run.metric_history())


class MlflowTool:
    """MLflow with ``sqlite:///<workdir>/mlflow.db`` and artifacts under ``<workdir>/mlruns``."""

    name = "MLflow"

    def __init__(self, workdir: Path) -> None:
        os.environ.update(NO_TELEMETRY)
        import mlflow

        quiet_mlflow()
        self.mlflow = mlflow
        mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
        mlflow.create_experiment("bench", artifact_location=(workdir / "mlruns").as_uri())
        mlflow.set_experiment("bench")

    def small_run(self) -> str:
        with self.mlflow.start_run(run_name="small") as run:
            self.mlflow.log_params(PARAMS)
            self.mlflow.log_metrics(METRICS)
        return run.info.run_id

    def metric_loop(self, n: int) -> str:
        log_metric = self.mlflow.log_metric
        with self.mlflow.start_run(run_name="steps") as run:
            for i in range(n):
                log_metric("loss", 1.0 / (i + 1), step=i)
        return run.info.run_id

    def counts(self, run_id: str) -> tuple[int, int]:
        client = self.mlflow.MlflowClient()
        data = client.get_run(run_id).data
        values = sum(len(client.get_metric_history(run_id, key)) for key in data.metrics)
        return len(data.params), values


Tool = NbmlopsTool | MlflowTool


def quiet_mlflow() -> None:
    """Keep MLflow's and alembic's INFO logs and warnings out of the output."""
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")


# -- measuring -------------------------------------------------------------------------------


def timed(fn: Callable[[], str]) -> tuple[float, str]:
    start = time.perf_counter()
    run_id = fn()
    return time.perf_counter() - start, run_id


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10, method="inclusive")[8]


def check_stored(tool: Tool, run_id: str, params: int, values: int) -> None:
    """Fail loudly if a tool did not store what it was asked to (a benchmark of a no-op)."""
    got = tool.counts(run_id)
    if got != (params, values):
        raise SystemExit(
            f"{tool.name} stored {got} (params, metric values), expected {(params, values)}"
        )


def bench_small_runs(tools: list[Tool], reps: int) -> dict[str, list[float]]:
    """Case (a): the tools interleaved, so machine noise hits both alike."""
    samples: dict[str, list[float]] = {tool.name: [] for tool in tools}
    last_run: dict[str, str] = {}
    for _ in range(reps):
        for tool in tools:
            seconds, last_run[tool.name] = timed(tool.small_run)
            samples[tool.name].append(seconds)
    for tool in tools:
        check_stored(tool, last_run[tool.name], N_PARAMS, N_METRICS)
    return samples


def bench_metric_loop(tool: Tool, reps: int) -> list[float]:
    """Case (b): ``N_STEPS`` single ``log_metric`` calls with steps, ending the run included."""
    samples = []
    for _ in range(reps):
        seconds, run_id = timed(lambda: tool.metric_loop(N_STEPS))
        check_stored(tool, run_id, 0, N_STEPS)
        samples.append(seconds)
        print(f"  {tool.name}: {N_STEPS:,} log_metric calls in {seconds:.3f} s", flush=True)
    return samples


def fresh_process_seconds(body: str, reps: int) -> float:
    """Median of ``reps`` timings of ``body`` in a fresh interpreter, each in an empty dir."""
    code = f"PARAMS = {PARAMS!r}\nMETRICS = {METRICS!r}\n" + TIMED.format(body=body.strip())
    samples = []
    for _ in range(reps):
        with tempfile.TemporaryDirectory(prefix="nbmlops-bench-") as cwd:
            out = subprocess.run(
                [sys.executable, "-c", code],
                cwd=cwd,
                env=clean_env(),
                capture_output=True,
                text=True,
            )
        if out.returncode != 0:
            raise SystemExit(f"fresh-process timing failed:\n{code}\n{out.stderr}")
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def clean_env() -> dict[str, str]:
    """This environment without tool settings (``mlflow.set_tracking_uri`` exports
    ``MLFLOW_TRACKING_URI``, which would leak into the children), telemetry still off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "NBMLOPS_"))}
    return {**env, **NO_TELEMETRY}


def bench_imports(reps: int) -> dict[str, float]:
    """Case (c): import time (and cold start, for information) in fresh interpreters."""
    results = {}
    for label, code in IMPORT_CODE.items():
        results[label] = fresh_process_seconds(code, reps)
        print(f"  {label}: {fmt_s(results[label])}", flush=True)
    for label, code in (("cold nbmlops", COLD_NBMLOPS), ("cold mlflow", COLD_MLFLOW)):
        results[label] = fresh_process_seconds(code, reps)
        print(f"  {label}: import + first run {fmt_s(results[label])}", flush=True)
    return results


# -- reporting -------------------------------------------------------------------------------


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 0.001:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1000:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.1f}x"


def table(rows: list[Row]) -> list[str]:
    lines = ["| measure | nbmlops | MLflow | ratio (MLflow / nbmlops) |", "|---|---:|---:|---:|"]
    lines += [
        f"| {r.label} | {fmt_s(r.nbmlops_s)} | {fmt_s(r.mlflow_s)} | {fmt_ratio(r.ratio)} |"
        for r in rows
    ]
    return lines


def targets(small: list[Row], steps: list[Row], imports: dict[str, float]) -> list[Target]:
    found = [
        Target(
            f"(a) small run >= {SPEEDUP_TARGET:.0f}x faster (median)",
            f"{small[0].ratio:.1f}x",
            small[0].ratio >= SPEEDUP_TARGET,
        ),
        Target(
            f"(a) small run in a dirty git clone >= {SPEEDUP_TARGET:.0f}x faster (median)",
            f"{small[2].ratio:.1f}x",
            small[2].ratio >= SPEEDUP_TARGET,
        ),
        Target(
            f"(b) {N_STEPS:,} log_metric >= {SPEEDUP_TARGET:.0f}x faster (median)",
            f"{steps[0].ratio:.1f}x",
            steps[0].ratio >= SPEEDUP_TARGET,
        ),
    ]
    for label in ("import nbmlops", "import nbmlops.tracking"):
        found.append(
            Target(
                f"(c) `{label}` < {IMPORT_TARGET_S} s",
                fmt_s(imports[label]),
                imports[label] < IMPORT_TARGET_S,
            )
        )
    return found


def environment() -> dict[str, str]:
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {cpu_model()}, {platform.platform()}",
        "python": platform.python_version(),
        "nbmlops": version("nbmlops"),
        "mlflow": version("mlflow"),
        "sqlalchemy": version("sqlalchemy"),
        "temporary directory": f"{tempfile.gettempdir()} ({filesystem(tempfile.gettempdir())})",
    }


def filesystem(path: str) -> str:
    """The filesystem type holding ``path`` (SQLite commit cost depends on it)."""
    best, kind = "", "unknown filesystem"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, fstype, *_ = line.split()
            if Path(path).resolve().is_relative_to(mount) and len(mount) > len(best):
                best, kind = mount, fstype
    except (OSError, ValueError):
        pass
    return kind


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def report(
    command: str,
    plan: Plan,
    small: list[Row],
    steps: list[Row],
    import_rows: list[Row],
    cold: list[Row],
    goals: list[Target],
) -> str:
    env = environment()
    lines = [
        "## Tracking benchmark: nbmlops vs MLflow (SQLite backend)",
        "",
        "Made by `benchmarks/bench_tracking.py`; the numbers below come from one run of:",
        "",
        "```",
        command,
        "```",
        "",
        *[f"- {key}: {value}" for key, value in env.items()],
        "- setup: one process, both tools in a fresh temporary working directory (no git "
        "state to capture; the last two rows of (a): in a dirty shallow clone of this "
        "repository instead); nbmlops workspace `<tmp>/nbmlops`, MLflow "
        "`sqlite:///<tmp>/mlflow.db` with artifacts in `<tmp>/mlruns`; each tool's own "
        "defaults otherwise (MLflow telemetry off: `MLFLOW_DISABLE_TELEMETRY=true`, so no "
        "network time is measured). One warm-up run per tool first, so schema creation and "
        "first-run costs are excluded from (a) and (b).",
        "",
        f"### (a) one run: start, log_params({N_PARAMS}), log_metrics({N_METRICS}), end",
        "",
        f"{plan.small_runs} repetitions, the two tools interleaved.",
        "",
        *table(small),
        "",
        f"### (b) {N_STEPS:,} `log_metric(key, value, step=i)` calls in one run, end included",
        "",
        f"Median of {plan.steps_nbmlops} runs (nbmlops) and {plan.steps_mlflow} (MLflow). "
        "nbmlops buffers metric values and writes the rest when the run ends, so ending the "
        "run is inside the timing.",
        "",
        *table(steps),
        "",
        "### (c) import time, fresh interpreter",
        "",
        f"Median of {plan.imports} subprocesses. `import nbmlops` loads only the package "
        "`__init__`: its public names are resolved lazily, so that number alone says little. "
        "The first `nbmlops.start_run` imports `nbmlops.tracking` (SQLAlchemy, the store, "
        "the tracking code), which is the fair counterpart of `import mlflow` (after which "
        "`mlflow.start_run` is ready).",
        "",
        *table(import_rows),
        "",
        "For information (no target): cold start in a fresh process and an empty workspace, "
        "import + one run of case (a), schema creation included.",
        "",
        *table(cold),
        "",
        "### Targets",
        "",
        "| target | measured | result |",
        "|---|---:|---|",
        *[f"| {g.name} | {g.measured} | {'PASS' if g.passed else 'FAIL'} |" for g in goals],
        "",
    ]
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    return parser.parse_args(argv)


def dirty_clone(tmp: Path) -> Path:
    """A shallow clone of this repository with one tracked file modified (where notebooks
    live: every run captures commit, branch and the uncommitted diff)."""
    clone = tmp / "clone"
    repo = Path(__file__).resolve().parent.parent
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", repo.as_uri(), str(clone)],
        check=True,
        capture_output=True,
    )
    readme = clone / "README.md"
    readme.write_text(readme.read_text() + "\nlocal edit\n")
    return clone


def small_runs_in_git(plan: Plan, tmp: Path) -> dict[str, list[float]]:
    """Case (a) again, inside a dirty git clone (both tools capture its state)."""
    clone = dirty_clone(tmp)
    os.chdir(clone)
    tools: list[Tool] = [NbmlopsTool(clone / "ws"), MlflowTool(clone / "ws")]
    for tool in tools:
        tool.small_run()
    print(f"(a) {plan.small_runs} small runs per tool in a dirty git clone ...", flush=True)
    return bench_small_runs(tools, plan.small_runs)


def run_in_process(plan: Plan) -> tuple[list[Row], list[Row]]:
    """Cases (a) and (b), both tools in this process, inside a fresh temporary directory."""
    home = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="nbmlops-bench-") as tmp:
        workdir = Path(tmp).resolve()
        os.chdir(workdir)
        try:
            tools: list[Tool] = [NbmlopsTool(workdir), MlflowTool(workdir)]
            for tool in tools:  # warm-up: schema creation, first-run caches
                tool.small_run()
            print(f"(a) {plan.small_runs} small runs per tool ...", flush=True)
            small = bench_small_runs(tools, plan.small_runs)
            print(f"(b) {N_STEPS:,} log_metric calls ...", flush=True)
            nb_steps = bench_metric_loop(tools[0], plan.steps_nbmlops)
            ml_steps = bench_metric_loop(tools[1], plan.steps_mlflow)
            in_git = small_runs_in_git(plan, workdir)
        finally:
            os.chdir(home)
    a = [
        Row("median", statistics.median(small["nbmlops"]), statistics.median(small["MLflow"])),
        Row("p90", p90(small["nbmlops"]), p90(small["MLflow"])),
        Row(
            "median, dirty git clone",
            statistics.median(in_git["nbmlops"]),
            statistics.median(in_git["MLflow"]),
        ),
        Row("p90, dirty git clone", p90(in_git["nbmlops"]), p90(in_git["MLflow"])),
    ]
    b = [
        Row("median, whole run", statistics.median(nb_steps), statistics.median(ml_steps)),
        Row(
            "per call", statistics.median(nb_steps) / N_STEPS, statistics.median(ml_steps) / N_STEPS
        ),
    ]
    return a, b


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    plan = Plan.of(args.quick)
    command = shlex.join(["python", "benchmarks/bench_tracking.py", *argv])
    small, steps = run_in_process(plan)
    print("(c) imports in fresh interpreters ...", flush=True)
    imports = bench_imports(plan.imports)
    import_rows = [
        Row(
            "`import nbmlops.tracking` vs `import mlflow` (ready to track)",
            imports["import nbmlops.tracking"],
            imports["import mlflow"],
        ),
        Row(
            "`import nbmlops` alone (lazy: package `__init__` only)",
            imports["import nbmlops"],
            None,
        ),
    ]
    cold = [Row("import + first run", imports["cold nbmlops"], imports["cold mlflow"])]
    goals = targets(small, steps, imports)
    text = report(command, plan, small, steps, import_rows, cold, goals)
    print()
    print(text)
    if not args.no_write:
        write_section("bench_tracking", text)
        print(f"written to {RESULTS}")
    missed = [g for g in goals if not g.passed]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
