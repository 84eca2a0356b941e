"""Drift reports: nbmlops against Evidently's data-drift report on the same generated data.

Run from the repository root::

    python benchmarks/bench_drift.py              # both sizes, about 10 minutes
    python benchmarks/bench_drift.py --quick      # the small size only
    python benchmarks/bench_drift.py --check      # exit 1 if a target is missed

Sizes: (i) 100,000 rows × 25 columns (20 numeric, 5 categorical) and (ii) 1,000,000 rows ×
60 columns (50 numeric, 10 categorical); in both, a shift is injected in 5 columns (3 numeric:
mean or scale; 2 categorical: category shares). Each tool runs in its own fresh process per
size, reading the same Parquet files; what is timed is building the report (compute) and
writing its HTML. Peak memory is the process's maximum RSS, data included.

Evidently 0.7 needs pandas < 3 and plotly < 6, which nbmlops' environment does not have, so it
runs from its own virtual environment: ``benchmarks/.venv-evidently`` (created on first use
with ``pip install evidently 'pandas<3' pyarrow``), or ``--evidently-python PATH``.

Both tools get the same column types. Both choose tests by the same rule for large samples
(normalized Wasserstein distance ≥ 0.1 for numeric columns, Jensen-Shannon distance ≥ 0.1
for categorical ones), so their verdicts should agree column by column.

Targets: compute ≥ 10× faster than Evidently; HTML ≤ 1/3 of Evidently's; identical verdicts
where the same test is used. Results go to ``benchmarks/RESULTS.md`` (``--no-write`` to skip).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import RESULTS, write_section  # noqa: E402

SPEEDUP_TARGET = 10.0
HTML_RATIO_TARGET = 1 / 3
VENV = HERE / ".venv-evidently"


@dataclass(frozen=True)
class Size:
    label: str
    rows: int
    numeric: int
    categorical: int
    shifted: int = 5


SIZES = [
    Size("(i) 100,000 rows × 25 columns", 100_000, 20, 5),
    Size("(ii) 1,000,000 rows × 60 columns", 1_000_000, 50, 10),
]


def generate(size: Size, folder: Path, seed: int = 0) -> dict:
    """Write reference.parquet, current.parquet and columns.json; return the column plan."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    numeric = [f"num_{i:02d}" for i in range(size.numeric)]
    categorical = [f"cat_{i:02d}" for i in range(size.categorical)]
    shifted_numeric = numeric[:3]
    shifted_categorical = categorical[:2]

    def frame(shift: bool):
        data = {}
        for i, name in enumerate(numeric):
            loc, scale = (i % 7) * 10.0, 1.0 + (i % 3)
            values = rng.normal(loc, scale, size.rows)
            if shift and name in shifted_numeric:
                values = values + 0.5 * scale if i % 2 == 0 else values * 1.6
            data[name] = values
        for i, name in enumerate(categorical):
            levels = [f"{name}_v{j}" for j in range(4 + i % 5)]
            weights = np.linspace(1, 2, len(levels))
            if shift and name in shifted_categorical:
                weights = weights[::-1] ** 2
            data[name] = pd.Categorical(
                rng.choice(levels, size.rows, p=weights / weights.sum()), categories=levels
            )
        return pd.DataFrame(data)

    folder.mkdir(parents=True, exist_ok=True)
    frame(False).to_parquet(folder / "reference.parquet")
    frame(True).to_parquet(folder / "current.parquet")
    plan = {
        "numeric": numeric,
        "categorical": categorical,
        "shifted": shifted_numeric + shifted_categorical,
    }
    (folder / "columns.json").write_text(json.dumps(plan))
    return plan


def evidently_python(given: str | None) -> str:
    if given:
        return given
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} with Evidently (once) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "evidently", "pandas<3", "pyarrow"],
            check=True,
        )
    return str(python)


def run_worker(python: str, tool: str, data_dir: Path, out_dir: Path) -> dict:
    env = {
        **os.environ,
        "DO_NOT_TRACK": "1",
        "EVIDENTLY_DISABLE_TELEMETRY": "1",
        "PYTHONPATH": str(HERE.parent / "src"),
    }
    done = subprocess.run(
        [python, str(HERE / "_drift_worker.py"), tool, str(data_dir), str(out_dir)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{tool} worker failed:\n{done.stderr[-3000:]}")


def compare(nb: dict, ev: dict, plan: dict) -> dict:
    same_test = [
        c
        for c in nb["columns"]
        if nb["columns"][c]["method"] == ev["columns"].get(c, {}).get("method")
    ]
    disagree = [c for c in same_test if nb["columns"][c]["drifted"] != ev["columns"][c]["drifted"]]
    max_diff = max(
        (abs(nb["columns"][c]["value"] - ev["columns"][c]["value"]) for c in same_test), default=0.0
    )
    return {
        "same_test": len(same_test),
        "columns": len(nb["columns"]),
        "disagree": disagree,
        "max_value_diff": max_diff,
        "nbmlops_flags": sorted(c for c, v in nb["columns"].items() if v["drifted"]),
        "evidently_flags": sorted(c for c, v in ev["columns"].items() if v["drifted"]),
        "injected": sorted(plan["shifted"]),
    }


def fmt_bytes(n: float) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.0f} KB"


def section(command: str, results: list[tuple[Size, dict, dict, dict]], nb_cdn: dict) -> str:
    ev_version = results[0][2]["version"] if results else "?"
    lines = [
        "## Drift report benchmark: nbmlops vs Evidently (data drift preset)",
        "",
        "Made by `benchmarks/bench_drift.py`; the numbers below come from one run of:",
        "",
        "```",
        command,
        "```",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} cores, {platform.platform()}",
        f"- python: {platform.python_version()}; Evidently {ev_version} in its own venv "
        "(pandas < 3, plotly < 6)",
        "- data: normal numeric columns and categorical columns of 4-8 levels; shift injected "
        "in 3 numeric (mean +0.5σ or scale ×1.6) and 2 categorical (shares reversed) columns; "
        "both tools get the same column types; each runs in a fresh process per size.",
        "",
        "| size | measure | nbmlops | Evidently | ratio |",
        "|---|---|---:|---:|---:|",
    ]
    for size, nb, ev, cmp in results:
        lines += [
            f"| {size.label} | compute | {nb['compute_s']:.2f} s | {ev['compute_s']:.2f} s | "
            f"{ev['compute_s'] / nb['compute_s']:.1f}× faster |",
            f"| | HTML write | {nb['html_s']:.2f} s | {ev['html_s']:.2f} s | "
            f"{ev['html_s'] / max(nb['html_s'], 1e-9):.1f}× faster |",
            f"| | HTML size | {fmt_bytes(nb['html_bytes'])} | {fmt_bytes(ev['html_bytes'])} | "
            f"{nb['html_bytes'] / ev['html_bytes']:.2f} of Evidently's |",
            f"| | peak memory (RSS, data included) | {nb['peak_mb']:.0f} MB | "
            f"{ev['peak_mb']:.0f} MB | after loading: {nb['loaded_mb']:.0f} / "
            f"{ev['loaded_mb']:.0f} MB |",
            f"| | same test | {cmp['same_test']} of {cmp['columns']} columns | | "
            f"verdicts differ on {len(cmp['disagree'])}; max value difference "
            f"{cmp['max_value_diff']:.2g} |",
            f"| | flagged | {', '.join(cmp['nbmlops_flags']) or 'none'} | "
            f"{', '.join(cmp['evidently_flags']) or 'none'} | injected: "
            f"{', '.join(cmp['injected'])} |",
        ]
    if nb_cdn:
        lines += [
            "",
            'With `to_html(plotlyjs="cdn")` (plotly.js loaded from its CDN) the nbmlops file '
            "is " + ", ".join(f"{fmt_bytes(b)} for {label}" for label, b in nb_cdn.items()) + ".",
        ]
    lines += ["", "### Targets", "", "| target | measured | result |", "|---|---:|---|"]
    for target in targets(results):
        lines.append(f"| {target[0]} | {target[1]} | {'PASS' if target[2] else 'FAIL'} |")
    return "\n".join(lines) + "\n"


def targets(results) -> list[tuple[str, str, bool]]:
    out = []
    for size, nb, ev, cmp in results:
        speed = ev["compute_s"] / nb["compute_s"]
        ratio = nb["html_bytes"] / ev["html_bytes"]
        out += [
            (f"{size.label}: compute ≥ 10× faster", f"{speed:.1f}×", speed >= SPEEDUP_TARGET),
            (
                f"{size.label}: HTML ≤ 1/3 of Evidently's",
                f"{ratio:.2f}",
                ratio <= HTML_RATIO_TARGET,
            ),
            (
                f"{size.label}: same verdicts where the same test is used",
                f"{len(cmp['disagree'])} differ of {cmp['same_test']}",
                not cmp["disagree"],
            ),
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 100,000-row size")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.name}")
    parser.add_argument(
        "--evidently-python",
        default=None,
        help="an interpreter with evidently installed (default: own venv)",
    )
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/bench_drift.py", *argv])
    ev_python = evidently_python(args.evidently_python)
    results = []
    cdn_sizes: dict[str, int] = {}
    sizes = SIZES[:1] if args.quick else SIZES
    with tempfile.TemporaryDirectory(prefix="nbmlops-drift-bench-") as tmp:
        for size in sizes:
            folder = Path(tmp) / f"rows{size.rows}"
            print(f"{size.label}: generating data ...", flush=True)
            plan = generate(size, folder)
            print("  nbmlops ...", flush=True)
            nb = run_worker(sys.executable, "nbmlops", folder, folder)
            print(f"    compute {nb['compute_s']:.2f} s", flush=True)
            print("  Evidently ...", flush=True)
            ev = run_worker(ev_python, "evidently", folder, folder)
            print(f"    compute {ev['compute_s']:.2f} s", flush=True)
            results.append((size, nb, ev, compare(nb, ev, plan)))
            cdn_sizes[size.label.split(" ")[0]] = _cdn_size(folder, plan)
    text = section(command, results, cdn_sizes)
    print()
    print(text)
    if not args.no_write:
        write_section("bench_drift", text)
        print(f"written to {RESULTS}")
    missed = [t for t in targets(results) if not t[2]]
    return 1 if args.check and missed else 0


def _cdn_size(folder: Path, plan: dict) -> int:
    import pandas as pd

    import nbmlops

    ref = pd.read_parquet(folder / "reference.parquet")
    cur = pd.read_parquet(folder / "current.parquet")
    report = nbmlops.drift_report(ref, cur, categorical=plan["categorical"], progress=False)
    return len(report.to_html(plotlyjs="cdn").encode("utf-8"))


if __name__ == "__main__":
    sys.exit(main())
