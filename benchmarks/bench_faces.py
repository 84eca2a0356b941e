"""The faces a user meets first — the command line, the panel and compare — before and after
issue 12, side by side in one run.

Run from the repository root::

    python benchmarks/bench_faces.py                       # about 5 minutes on 2 cores
    python benchmarks/bench_faces.py --before /path/src    # another "before" checkout
    python benchmarks/bench_faces.py --repeat 3 --runs 2000  # a quicker smoke run
    python benchmarks/bench_faces.py --write               # also update RESULTS.md

BEFORE is the ``src`` folder of a checkout of main from before the change (default
``/work/baseline/src``; when it is missing the BEFORE column is skipped with a note), AFTER is
this checkout's ``src``. Every measurement runs in fresh subprocesses with ``PYTHONPATH`` set
to that side's ``src`` and a workspace made by that side's own code:

- command line, wall time of a whole process (``python -m nbmlops ...``), best of N, with
  the CPU time (user + system) of that run beside it:
  ``--help``; a usage error (``runs ls --bogus``); a missing notebook (``run missing.ipynb``);
  ``runs ls`` on a workspace of 10,000 runs (2 experiments, 5 params, 3 metrics, 2 tags each,
  inserted in bulk as ``bench_widgets.py`` does); a fully cached ``pipeline run`` of
  ``example_notebooks/03_pipeline`` (run once uncached first, not timed).
- in one warm process per side, best of N after a warm-up: ``nbmlops.panel()`` on the
  10,000-run workspace (the first, cold construction is printed too), and compare of 2 and 5
  runs (22 params of mixed types, some constant; one metric logged once, one over 30 steps):
  ``nbmlops.compare(...)``, its static HTML, its widget (figures included) and the widget
  state a kernel sends the browser, as JSON. What the browser then does with it (plotly.js
  drawing the figures) is not measured here.

Bytecode is cached per side in a temporary ``PYTHONPYCACHEPREFIX`` and every command runs once
before it is timed, as for an installed package. The 1-minute load average is printed with
every row: timings from a busy machine are not comparable with the targets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import RESULTS, write_section  # noqa: E402

AFTER_SRC = HERE.parent / "src"
DEFAULT_BEFORE = Path("/work/baseline/src")
EXAMPLE = HERE.parent / "example_notebooks" / "03_pipeline"


@dataclass
class Case:
    key: str
    label: str
    target_s: float
    where: str = "process"  # "process": a whole command; "warm": inside one warm process
    results: dict[str, float | None] = field(default_factory=dict)
    loads: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


CASES = [
    Case("help", "`nbmlops --help`", 0.3),
    Case("usage", "usage error: `nbmlops runs ls --bogus`", 0.3),
    Case("missing", "bad input: `nbmlops run missing.ipynb`", 0.3),
    Case("runs_ls", "`nbmlops runs ls` at {runs} runs", 1.0),
    Case("pipeline", "fully cached `nbmlops pipeline run` (example pipeline)", 1.5),
    Case("panel", "`nbmlops.panel()` at {runs} runs (warm)", 1.0, "warm"),
    Case("compare2", "compare 2 runs: object, HTML, widget and its state (warm)", 1.0, "warm"),
    Case("compare5", "compare 5 runs: object, HTML, widget and its state (warm)", 1.0, "warm"),
]

# -- what runs inside a side's subprocesses ----------------------------------------------------

_FILL = """\
import json, random, sys, time
import nbmlops
src, home, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
assert nbmlops.__file__.startswith(src), f"imported {nbmlops.__file__}, not from {src}"
sys.path.insert(0, sys.argv[4])
from bench_widgets import fake_runs, fill_nbmlops

nbmlops.configure(home=home + "/runs10k", reset=True)
fill_nbmlops(fake_runs(runs))

# Five runs to compare: 22 params (mixed types, 12 constant), a metric logged once and one
# logged over 30 steps, as a tuning notebook makes them.
nbmlops.configure(home=home + "/compare", reset=True)
rng = random.Random(0)
ids = []
for i in range(5):
    with nbmlops.start_run(name=f"trial-{i}", experiment="compare") as run:
        params = {f"const_{k}": v for k, v in enumerate([0.1, 3, "gini", True, None, "auto",
                                                         1e-4, 42, "l2", False, 7, "sgd"])}
        params.update({"n_estimators": 50 * (i + 1), "max_depth": 3 + i, "learning_rate":
                       round(0.3 / (i + 1), 4), "subsample": 0.8, "criterion": ["gini",
                       "entropy"][i % 2], "min_samples_leaf": i + 1, "max_features":
                       ["sqrt", "log2", None][i % 3], "bootstrap": i % 2 == 0,
                       "class_weight": None if i < 3 else "balanced", "random_state": i})
        nbmlops.log_params(params)
        nbmlops.log_metric("f1", 0.80 + rng.uniform(-0.05, 0.1))
        for step in range(30):
            nbmlops.log_metric("loss", 1.0 / (step + 1) + rng.uniform(0, 0.05), step=step)
        ids.append(run.run_id)
print(json.dumps(ids))
"""

_WARM = """\
import gc, json, sys, time, warnings
warnings.filterwarnings("ignore")
home, repeat, ids = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
import nbmlops

def best(fn):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)

out = {}
nbmlops.configure(home=home + "/runs10k", reset=True)
start = time.perf_counter()
nbmlops.panel()
out["panel_cold"] = time.perf_counter() - start
out["panel"] = best(lambda: nbmlops.panel())

nbmlops.configure(home=home + "/compare", reset=True)

from ipywidgets import Widget
from ipywidgets.embed import dependency_state, embed_data

def compare(n):
    comparison = nbmlops.compare(*ids[:n])
    comparison.to_html()
    view = comparison.widget()
    # What a kernel sends the browser to show the widget: the state of every widget in it.
    json.dumps(embed_data(views=[view], state=dependency_state([view]))["manager_state"])
    Widget.close_all()

out["compare2"] = best(lambda: compare(2))
out["compare5"] = best(lambda: compare(5))
print(json.dumps(out))
"""


# -- the harness --------------------------------------------------------------------------------


class Side:
    """One checkout: its ``src``, a temporary home for its workspaces and bytecode."""

    def __init__(self, name: str, src: Path, tmp: Path):
        self.name = name
        self.src = src.resolve()
        self.home = tmp / name
        self.home.mkdir(parents=True)
        self.compare_ids: list[str] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NBMLOPS_")}
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env.update(
            PYTHONPATH=str(self.src),
            PYTHONPYCACHEPREFIX=str(tmp / f"pycache-{name}"),
            NBMLOPS_HOME=str(self.home / "runs10k"),
        )

    def run(self, args: list[str], cwd: Path | None = None, home: str = "runs10k", **kw):
        env = dict(self.env, NBMLOPS_HOME=str(self.home / home))
        return subprocess.run(
            args, cwd=cwd or self.home, env=env, capture_output=True, text=True, **kw
        )

    def cli(self, *args: str, **kw):
        return self.run([sys.executable, "-m", "nbmlops", *args], **kw)


def load() -> float:
    return os.getloadavg()[0]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best_wall(fn, repeat: int) -> tuple[float, float]:
    """Best wall time of a command run ``repeat`` times, and the CPU time (user + system) of
    that fastest run: on a busy machine the CPU time says more than the wall time."""
    fn()  # warm-up: bytecode cached, files in the page cache
    best = (float("inf"), float("nan"))
    for _ in range(repeat):
        cpu = _children_cpu()
        start = time.perf_counter()
        fn()
        wall = time.perf_counter() - start
        best = min(best, (wall, _children_cpu() - cpu))
    return best


def prepare(side: Side, runs: int) -> None:
    started = time.perf_counter()
    done = side.run(
        [sys.executable, "-c", _FILL, str(side.src), str(side.home), str(runs), str(HERE)]
    )
    if done.returncode != 0:
        raise SystemExit(f"{side.name}: filling the workspaces failed:\n{done.stderr}")
    side.compare_ids = json.loads(done.stdout.strip().splitlines()[-1])
    pipeline = side.home / "pipeline"
    shutil.copytree(EXAMPLE, pipeline, ignore=shutil.ignore_patterns("work", "*.out.ipynb"))
    first = side.cli(
        "pipeline", "run", str(pipeline / "pipeline.yaml"), "--no-progress", home="pipeline-ws"
    )
    if first.returncode != 0:
        raise SystemExit(f"{side.name}: the example pipeline failed:\n{first.stderr}")
    print(
        f"  {side.name}: workspaces ready in {time.perf_counter() - started:.0f}s "
        f"({runs:,} runs; example pipeline ran once)",
        flush=True,
    )


def measure(side: Side, cases: dict[str, Case], repeat: int, runs: int) -> None:
    spec = str(side.home / "pipeline" / "pipeline.yaml")

    def expect(done, code: int, text: str, what: str) -> None:
        if done.returncode != code or text not in done.stdout + done.stderr:
            raise SystemExit(
                f"{side.name}: {what} exited {done.returncode}, expected {code} with "
                f"{text!r}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )

    commands = {
        "help": (lambda: side.cli("--help"), 0, "Usage:"),
        "usage": (lambda: side.cli("runs", "ls", "--bogus"), 2, "No such option"),
        "missing": (lambda: side.cli("run", "missing.ipynb"), 1, "missing.ipynb"),
        "runs_ls": (lambda: side.cli("runs", "ls"), 0, "trial-"),
        "pipeline": (
            lambda: side.cli("pipeline", "run", spec, "--no-progress", home="pipeline-ws"),
            0,
            "3 cached",
        ),
    }
    for key, (command, code, text) in commands.items():
        expect(command(), code, text, key)
        n = max(2, repeat // 2) if key == "pipeline" else repeat
        cases[key].loads[side.name] = load()
        wall, cpu = best_wall(command, n)
        cases[key].results[side.name] = wall
        cases[key].notes[side.name] = f"CPU {fmt(cpu)}"
        print(f"  {side.name:<6} {key:<9} {wall:7.3f} s  (CPU {cpu:.3f} s)", flush=True)

    warm_load = load()
    done = side.run(
        [sys.executable, "-c", _WARM, str(side.home), str(repeat), json.dumps(side.compare_ids)]
    )
    if done.returncode != 0:
        raise SystemExit(f"{side.name}: the warm measurements failed:\n{done.stderr[-3000:]}")
    warm = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("panel", "compare2", "compare5"):
        cases[key].results[side.name] = warm[key]
        cases[key].loads[side.name] = warm_load
        print(f"  {side.name:<6} {key:<9} {warm[key]:7.3f} s", flush=True)
    cases["panel"].notes[side.name] = f"first build {warm['panel_cold']:.2f} s"


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def table(cases: list[Case], sides: list[str], runs: int) -> str:
    head = ["case", "target"]
    for name in sides:
        head += [name, f"{name} load"]
    head += ["after vs target"]
    if "before" in sides:
        head += ["before / after"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for case in cases:
        row = [case.label.format(runs=f"{runs:,}"), f"≤ {fmt(case.target_s)}"]
        for name in sides:
            value = case.results.get(name)
            note = f" ({case.notes[name]})" if name in case.notes else ""
            row += [fmt(value) + note, f"{case.loads.get(name, float('nan')):.1f}"]
        after = case.results.get("after")
        row.append("pass" if after is not None and after <= case.target_s else "FAIL")
        if "before" in sides:
            before = case.results.get("before")
            row.append(f"{before / after:.1f}x" if before and after else "—")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--before",
        type=Path,
        default=DEFAULT_BEFORE,
        help=f"src folder of the checkout before the change (default {DEFAULT_BEFORE})",
    )
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the big workspace")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions (best of)")
    parser.add_argument("--write", action="store_true", help="write the table to RESULTS.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()

    sides_src = {"before": args.before, "after": AFTER_SRC}
    skipped = None
    if not (args.before / "nbmlops" / "__init__.py").is_file():
        skipped = f"no nbmlops checkout at {args.before}: the BEFORE column is skipped"
        print(f"note: {skipped}", flush=True)
        del sides_src["before"]
    print(
        f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs",
        flush=True,
    )
    cases = {case.key: case for case in CASES}
    with tempfile.TemporaryDirectory(prefix="nbmlops-bench-faces-") as tmp:
        sides = [Side(name, src, Path(tmp)) for name, src in sides_src.items()]
        print("preparing workspaces ...", flush=True)
        for side in sides:
            prepare(side, args.runs)
        print(f"measuring (best of {args.repeat}) ...", flush=True)
        for side in sides:
            measure(side, cases, args.repeat, args.runs)
    end_load = os.getloadavg()
    text = table(list(cases.values()), [s.name for s in sides], args.runs)
    missed = [c.key for c in cases.values() if (c.results.get("after") or 1e9) > c.target_s]
    verdict = (
        "Every target met."
        if not missed
        else f"Targets missed: {', '.join(missed)} (see the load column: a busy machine)."
    )
    print()
    print(text)
    print()
    print(verdict)
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in end_load)}")
    if args.write:
        command = "python benchmarks/" + " ".join(
            shlex.quote(a) for a in [Path(__file__).name, *sys.argv[1:]]
        )
        header = (
            "## Faces benchmark: command line, panel and compare, before and after issue 12\n\n"
            f"`{command}` on {platform.machine()} {platform.system()}, Python "
            f"{platform.python_version()}, {os.cpu_count()} CPUs, "
            f"{dt.date.today().isoformat()}; best of {args.repeat} after a warm-up. "
            "BEFORE is main before issue 12, AFTER this checkout; each side in fresh "
            "subprocesses on workspaces made by its own code. The load columns are the "
            "1-minute load average when the row was measured.\n\n"
        )
        note = f"\n\n{skipped}." if skipped else ""
        write_section("bench_faces", header + text + "\n\n" + verdict + note + "\n")
        print(f"wrote {RESULTS}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
