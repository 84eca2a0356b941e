"""Data validation: nbmlops' vectorized checks against pandera on the same expectations.

Run from the repository root (needs ``pip install pandera``)::

    python benchmarks/bench_validation.py            # 1,000,000 rows × 21 columns
    python benchmarks/bench_validation.py --rows 100000

The expectations are learned by ``nbmlops.expectations_from`` from a reference frame and
exported with ``Expectations.to_pandera()``, so both tools check the same things (types,
ranges, allowed categories, uniqueness, nulls) on a new frame with some bad values. Timed:
validating the new frame, median of 3 (pandera: ``schema.validate(df, lazy=True)``, catching
its ``SchemaErrors``). This is the measurement behind not using pandera as the engine.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import RESULTS, write_section  # noqa: E402


def frames(rows: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The reference, a new frame with a few bad values, and one where a fifth of 5 columns
    is out of range (a real incident: a unit change upstream)."""
    rng = np.random.default_rng(0)
    data = {f"x{i:02d}": rng.normal(size=rows) for i in range(20)}
    data["country"] = pd.Categorical(rng.choice(["FR", "DE", "US", "ES"], rows))
    reference = pd.DataFrame(data)
    few = reference.copy()
    few.loc[::1000, "x00"] = 99.0  # out of range
    few.loc[::5000, "x01"] = np.nan
    many = reference.copy()
    for i in range(5):
        many.loc[::5, f"x{i:02d}"] *= 100
    return reference, few, many


def median_time(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    args = parser.parse_args(argv)
    import pandera
    import pandera.pandas as pa

    import nbmlops

    reference, few, many = frames(args.rows)
    suite = nbmlops.expectations_from(reference)
    schema = suite.to_pandera()

    def run_pandera(frame):
        try:
            schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            return exc.failure_cases
        return None

    rows = []
    for label, frame in (("a few bad values", few), ("a fifth of 5 columns bad", many)):
        failing = nbmlops.validate(frame, suite).failures
        cases = run_pandera(frame)
        ours = median_time(lambda frame=frame: nbmlops.validate(frame, suite))
        theirs = median_time(lambda frame=frame: run_pandera(frame))
        rows.append(
            f"| {label} | {ours:.3f} s | {theirs:.3f} s | {theirs / ours:.1f}× | "
            f"{len(failing)} failed checks, {int(failing['failing_count'].sum()):,} values | "
            f"{0 if cases is None else len(cases):,} failure-case rows |"
        )
    text = "\n".join(
        [
            "## Validation benchmark: nbmlops vs pandera",
            "",
            "Made by `benchmarks/bench_validation.py`; the numbers below come from one run of:",
            "",
            "```",
            shlex.join(["python", "benchmarks/bench_validation.py", *argv]),
            "```",
            "",
            f"- python {platform.python_version()}, pandas {pd.__version__}, pandera "
            f"{pandera.__version__}; {args.rows:,} rows × {reference.shape[1]} columns; the same "
            "expectations (learned by nbmlops, exported with `to_pandera()`); median of 3",
            "",
            "| new data | nbmlops | pandera | pandera / nbmlops | nbmlops reports | pandera "
            "reports |",
            "|---|---:|---:|---:|---|---|",
            *rows,
            "",
        ]
    )
    print(text)
    if not args.no_write:
        write_section("bench_validation", text)
        print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
