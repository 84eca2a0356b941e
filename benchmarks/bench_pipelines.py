"""Notebook pipelines: what nbmlops adds on top of papermill, in one process and one run.

Run from the repository root::

    python benchmarks/bench_pipelines.py            # about 3 minutes on 2 cores
    python benchmarks/bench_pipelines.py --quick    # fewer repetitions
    python benchmarks/bench_pipelines.py --check    # exit 1 if a target is missed

Cases:

(a) one small notebook (load iris, fit a logistic regression, print the accuracy; a
    ``parameters`` cell) through ``nbmlops.run_notebook`` against plain
    ``papermill.execute_notebook`` of the same notebook with the same parameter, interleaved,
    median of several. papermill gets ``shutdown_kernel="immediate"`` like nbmlops does, so
    the comparison is not flattered by papermill's default graceful shutdown, which stalls
    about 4 s in some runs. Target: overhead at most 10%.
(b) 8 runs of that notebook: a sweep with ``parallel=1`` against ``parallel=2`` (the CLI's
    ``-j 2``), plus 8 plain papermill executions one after the other for reference.
(c) the example pipeline (``example_notebooks/03_pipeline``: prepare → train → evaluate)
    in a fresh workspace, then run again: every step is cached. Target: the cached rerun takes
    at most 10% of the first run.

Every case runs in a temporary folder with its own workspace (``NBMLOPS_HOME``). The results
are printed and written to ``benchmarks/RESULTS.md`` (``--no-write`` to skip).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import write_section  # noqa: E402

OVERHEAD_TARGET = 0.10
CACHED_TARGET = 0.10
EXAMPLE = HERE.parent / "example_notebooks" / "03_pipeline"


def small_notebook(path: Path) -> Path:
    """A notebook of the size people schedule: parameters, load data, fit, score."""
    parameters = new_code_cell("C = 1.0\nrandom_state = 0")
    parameters.metadata["tags"] = ["parameters"]
    cells = [
        parameters,
        new_code_cell(
            "from sklearn.datasets import load_iris\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "from sklearn.model_selection import train_test_split"
        ),
        new_code_cell(
            "X, y = load_iris(return_X_y=True)\n"
            "Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=random_state)"
        ),
        new_code_cell(
            "model = LogisticRegression(C=C, max_iter=500).fit(Xtr, ytr)\n"
            "accuracy = model.score(Xte, yte)\n"
            "print(f'accuracy={accuracy:.4f}')"
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def case_single(folder: Path, repeats: int) -> dict:
    import papermill

    import nbmlops

    notebook = small_notebook(folder / "small.ipynb")
    out = folder / "out"
    out.mkdir()

    def plain(i: int) -> None:
        papermill.execute_notebook(
            str(notebook),
            str(out / f"papermill-{i}.ipynb"),
            parameters={"C": 0.5},
            kernel_name="python3",
            progress_bar=False,
            shutdown_kernel="immediate",
        )

    def ours(i: int) -> None:
        nbmlops.run_notebook(notebook, parameters={"C": 0.5}, output=out / f"nbmlops-{i}.ipynb")

    # One warm-up each: imports, kernel spec lookup, schema creation, environment capture.
    plain(-1)
    ours(-1)
    papermill_s, nbmlops_s = [], []
    for i in range(repeats):
        papermill_s.append(timed(lambda i=i: plain(i)))
        nbmlops_s.append(timed(lambda i=i: ours(i)))
    pm, nb = statistics.median(papermill_s), statistics.median(nbmlops_s)
    return {
        "papermill": pm,
        "nbmlops": nb,
        "overhead": nb / pm - 1,
        "papermill_p90": sorted(papermill_s)[int(0.9 * (repeats - 1))],
        "nbmlops_p90": sorted(nbmlops_s)[int(0.9 * (repeats - 1))],
        "repeats": repeats,
    }


def case_parallel(folder: Path, runs: int) -> dict:
    import papermill

    import nbmlops

    notebook = small_notebook(folder / "sweep.ipynb")
    grid = {"random_state": list(range(runs))}

    def plain() -> None:
        for seed in grid["random_state"]:
            papermill.execute_notebook(
                str(notebook),
                str(folder / f"pm-{seed}.ipynb"),
                parameters={"random_state": seed},
                kernel_name="python3",
                progress_bar=False,
                shutdown_kernel="immediate",
            )

    results = {}
    results["papermill"] = timed(plain)
    for jobs in (1, 2):
        frame = None

        def run(jobs: int = jobs) -> None:
            nonlocal frame
            frame = nbmlops.sweep(notebook, grid, parallel=jobs, progress=False)

        results[f"j{jobs}"] = timed(run)
        statuses = set(frame["status"])
        if statuses != {"FINISHED"}:
            raise SystemExit(f"sweep with parallel={jobs} did not finish: {statuses}")
    results["speedup"] = results["j1"] / results["j2"]
    results["runs"] = runs
    return results


def case_cached(folder: Path) -> dict:
    import nbmlops

    pipeline = folder / "03_pipeline"
    shutil.copytree(EXAMPLE, pipeline, ignore=shutil.ignore_patterns("work", "*.out.ipynb"))
    first = timed(lambda: nbmlops.run_pipeline(pipeline / "pipeline.yaml", progress=False))
    result = None

    def again() -> None:
        nonlocal result
        result = nbmlops.run_pipeline(pipeline / "pipeline.yaml", progress=False)

    second = timed(again)
    if result.cached != ["prepare", "train", "evaluate"]:
        raise SystemExit(f"the rerun was not fully cached: ran {result.ran}")
    return {"first": first, "cached": second, "ratio": second / first, "executed": result.ran}


def report(single: dict, parallel: dict, cached: dict, quick: bool) -> tuple[str, list[tuple]]:
    command = "python benchmarks/bench_pipelines.py" + (" --quick" if quick else "")
    cpus = os.cpu_count()
    lines = [
        "## Pipeline benchmark: nbmlops notebook runs vs plain papermill",
        "",
        "Made by `benchmarks/bench_pipelines.py`; the numbers below come from one run of:",
        "",
        "```",
        command,
        "```",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {cpus} cores, {platform.platform()}",
        f"- python: {platform.python_version()}; papermill {version('papermill')}, "
        f"nbclient {version('nbclient')}, ipykernel {version('ipykernel')}, "
        f"dask {version('dask')}",
        "- setup: a temporary folder and a fresh workspace per case; kernel `python3`; "
        'papermill with `shutdown_kernel="immediate"` (as nbmlops uses), so its default '
        "graceful-shutdown stalls are not counted against it.",
        "",
        "### (a) one small notebook (iris, logistic regression, a `parameters` cell)",
        "",
        f"Median of {single['repeats']} runs each, interleaved, after one warm-up each. nbmlops "
        "records a run with the parameters, the notebook hash, git state and environment, "
        "and stores the input and executed notebooks as artifacts.",
        "",
        "| measure | plain papermill | nbmlops.run_notebook | overhead |",
        "|---|---:|---:|---:|",
        f"| median | {fmt_s(single['papermill'])} | {fmt_s(single['nbmlops'])} | "
        f"{single['overhead']:+.1%} |",
        f"| p90 | {fmt_s(single['papermill_p90'])} | {fmt_s(single['nbmlops_p90'])} | "
        f"{single['nbmlops_p90'] / single['papermill_p90'] - 1:+.1%} |",
        "",
        f"### (b) {parallel['runs']} runs of the same notebook",
        "",
        "| how | wall time | vs sweep `parallel=1` |",
        "|---|---:|---:|",
        f"| plain papermill, one after the other | {fmt_s(parallel['papermill'])} | "
        f"{parallel['j1'] / parallel['papermill']:.2f}x faster |",
        f"| `nbmlops.sweep(..., parallel=1)` | {fmt_s(parallel['j1'])} | 1.00x |",
        f"| `nbmlops.sweep(..., parallel=2)` (`-j 2`) | {fmt_s(parallel['j2'])} | "
        f"{parallel['speedup']:.2f}x faster |",
        "",
        "Each run is a fresh kernel process; on 2 cores, two at a time is the most the "
        "machine can overlap.",
        "",
        "### (c) the example pipeline, then a cached rerun",
        "",
        "`example_notebooks/03_pipeline` (prepare → train → evaluate) copied to a temporary "
        "folder, run in a fresh workspace, then run again with nothing changed.",
        "",
        "| run | wall time | share of the first |",
        "|---|---:|---:|",
        f"| first | {fmt_s(cached['first'])} | 100% |",
        f"| second (every step cached) | {fmt_s(cached['cached'])} | {cached['ratio']:.1%} |",
    ]
    targets = [
        (
            "(a) overhead of run_notebook over papermill <= 10%",
            f"{single['overhead']:+.1%}",
            single["overhead"] <= OVERHEAD_TARGET,
        ),
        (
            "(c) cached rerun <= 10% of the first run",
            f"{cached['ratio']:.1%}",
            cached["ratio"] <= CACHED_TARGET and not cached["executed"],
        ),
    ]
    lines += ["", "### Targets", "", "| target | measured | result |", "|---|---:|---|"]
    lines += [f"| {name} | {value} | {'PASS' if ok else 'FAIL'} |" for name, value, ok in targets]
    return "\n".join(lines) + "\n", targets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    repeats = 4 if args.quick else 10

    import nbmlops

    results = {}
    with tempfile.TemporaryDirectory(prefix="nbmlops-bench-pipelines-") as tmp:
        for name, fn in (
            ("single", lambda f: case_single(f, repeats)),
            ("parallel", lambda f: case_parallel(f, 8)),
            ("cached", case_cached),
        ):
            folder = Path(tmp) / name
            folder.mkdir()
            os.environ["NBMLOPS_HOME"] = str(folder / "workspace")
            nbmlops.configure(reset=True)
            print(f"{name} ...", flush=True)
            results[name] = fn(folder)
            print(f"  {results[name]}", flush=True)
    text, targets = report(results["single"], results["parallel"], results["cached"], args.quick)
    print()
    print(text)
    if not args.no_write:
        write_section("bench_pipelines", text)
        print(f"written to {HERE / 'RESULTS.md'}")
    if args.check and not all(ok for _, _, ok in targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
