"""Compare in the browser: from running ``nbmlops.compare(...)`` in a JupyterLab cell to both
charts drawn, for 2 and 5 runs, in Debian's Chromium driven by Playwright.

Run from the repository root (needs ``pip install -e ".[dev]"`` and /usr/bin/chromium)::

    python benchmarks/bench_compare_ui.py                      # writes its RESULTS.md section
    PYTHONPATH=/path/to/old/src python benchmarks/bench_compare_ui.py --no-write --json old.json
    python benchmarks/bench_compare_ui.py --before old.json    # the old numbers side by side

The workspace holds five runs as ``%%track`` records a tuned forest: three params that differ,
twenty captured ``model.*`` hyper-parameters that do not, a metric logged once and a loss by
epoch. The first compare of a fresh kernel pays the imports (plotly, the widgets); the warm
ones (median of ``--repeat``) are what the target is about. Each time is measured in the page:
the cell is run with Shift+Enter and the clock stops when both plotly charts have an SVG.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS, write_section  # noqa: E402

TARGET_S = 1.0
CHROMIUM = "/usr/bin/chromium"


def fill(n: int = 5) -> list[str]:
    import nbmlops

    ids = []
    for i in range(n):
        with nbmlops.start_run(name=f"forest-{i}", experiment="tuning") as run:
            params = {f"model.hyper_parameter_{k:02d}": k for k in range(20)}
            params.update(
                {
                    "n_estimators": [50, 100, 200, 400, 800][i],
                    "max_depth": [3, 5, 8, None, 13][i],
                    "criterion": ["gini", "entropy"][i % 2],
                    "model.class": "sklearn.ensemble._forest.RandomForestClassifier",
                }
            )
            run.log_params(params)
            run.log_metric("accuracy", 0.9 + i / 100)
            for epoch in range(10):
                run.log_metric("loss", 1 / (epoch + 1 + i), step=epoch)
            ids.append(run.run_id)
    return ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(ids: list[str], sizes: list[int], repeat: int, workdir: Path) -> dict[str, object]:
    import nbformat
    from playwright.sync_api import expect, sync_playwright

    notebooks = workdir / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import nbmlops")] + [
        nbformat.v4.new_code_cell(f"nbmlops.compare(*{ids[:k]!r})") for k in sizes
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, notebooks / "compare.ipynb")
    config = workdir / "jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}'
    )
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "HOME": str(workdir / "home"),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--LabApp.extension_manager=readonly",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={notebooks}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    results: dict[str, object] = {}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}api/status?token={token}"):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("jupyter lab did not start") from None
                time.sleep(0.25)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            expect.set_options(timeout=300_000)
            page.goto(f"{base}lab/tree/compare.ipynb?token={token}")
            expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible()
            cells = page.locator(".jp-Notebook .jp-Cell")
            count = 0

            def run(index: int, charts: bool = True) -> float:
                nonlocal count
                cell = cells.nth(index)
                cell.locator(".jp-InputArea-editor").click()
                count += 1
                started = time.monotonic()
                page.keyboard.press("Shift+Enter")
                expect(cell.locator(".jp-InputPrompt")).to_contain_text(f"[{count}]")
                if not charts:
                    return time.monotonic() - started
                expect(cell.locator(".js-plotly-plot")).to_have_count(2)
                for chart in cell.locator(".js-plotly-plot").all():
                    expect(chart.locator(".main-svg").first).to_be_visible()
                return time.monotonic() - started

            run(0, charts=False)
            for i, k in enumerate(sizes, start=1):
                first = run(i)
                warm = [run(i) for _ in range(repeat)]
                if i == 1:
                    results["first compare in a fresh kernel (2 runs)"] = first
                results[f"compare {k} runs (warm kernel)"] = statistics.median(warm)
            browser.close()
    finally:
        process.terminate()
        process.wait()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    parser.add_argument("--before", help="JSON of a run on the code before a change (--json)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    before = json.loads(Path(args.before).read_text()) if args.before else {}

    workdir = Path(tempfile.mkdtemp(prefix="nbmlops-bench-compare-ui-"))
    os.environ["NBMLOPS_HOME"] = str(workdir / "nbmlops")
    import nbmlops

    nbmlops.configure(reset=True)
    ids = fill()
    results = measure(ids, [2, 5], args.repeat, workdir)
    lines = [
        "| case | now" + (" | before" if before else "") + " | target |",
        "| --- | ---:" + (" | ---:" if before else "") + " | ---: |",
    ]
    for label, seconds in results.items():
        line = f"| {label} | {seconds:.2f} s"
        if before:
            line += f" | {before[label]:.2f} s" if label in before else " | —"
        target = f"≤ {TARGET_S:.0f} s" if "warm" in label else "—"
        lines.append(line + f" | {target} |")
    table = "\n".join(lines)
    warm = [s for label, s in results.items() if "warm" in label]
    passed = max(warm) <= TARGET_S
    verdict = (
        f"Target: compare 2–5 runs drawn in ≤ {TARGET_S:.0f} s in a warm kernel — "
        f"{'met' if passed else 'MISSED'} (slowest {max(warm):.2f} s)."
    )
    print(table)
    print(verdict)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if not args.no_write:
        command = "python benchmarks/" + " ".join(
            shlex.quote(a) for a in [Path(__file__).name, *sys.argv[1:]]
        )
        text = (
            "## Compare in the browser: `nbmlops.compare(...)` in JupyterLab until both charts "
            "are drawn\n\n"
            f"`{command}` on {platform.machine()} {platform.system()}, Python "
            f"{platform.python_version()}, {os.cpu_count()} CPUs, Debian Chromium headless "
            f"without GPU, {dt.date.today().isoformat()}; warm: median of {args.repeat}.\n\n"
            + (
                "*before*: the same script on the code before the change "
                "(`PYTHONPATH=<old checkout>/src python benchmarks/bench_compare_ui.py "
                "--no-write --json before.json`). "
                if before
                else ""
            )
            + "Before, each chart was a plotly `FigureWidget` (plotly.js, ~5 MB, shipped with "
            "every instance) and the parallel coordinates a WebGL `Parcoords` (4–5 s to draw "
            "without a GPU); now they are plotly's JSON mimetype in `Output` widgets, the "
            "parallel coordinates SVG lines.\n\n" + table + "\n\n" + verdict + "\n"
        )
        write_section("bench_compare_ui", text)
        print(f"wrote {RESULTS}")
    return 0 if passed or not args.check else 1


if __name__ == "__main__":
    raise SystemExit(main())
