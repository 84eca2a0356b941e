"""``nbmlops.panel()`` in a real JupyterLab, driven in Debian's Chromium with Playwright.

A notebook makes seven tracked runs (two experiments, a param holding int, None and str, a
FAILED run, a RandomForest with 20 captured hyper-parameters) and two model versions (one
without a run), with the panel displayed above them. The test checks from element geometry
that every header cell of the run table sits over its column's cells and that each row is
one line high, at 1280 and 1920 px; sorts by a header, uses the column chooser and the
constant-column toggle, switches tabs, deletes a version, and compares two runs (the charts
render). It saves docs/img/widgets-runs-1280.png, widgets-runs-1920.png and
widgets-compare.png.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from tests.conftest import screenshot_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]
LABEXTENSIONS = Path(sys.prefix) / "share/jupyter/labextensions"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
    pytest.mark.skipif(
        not (LABEXTENSIONS / "anywidget").is_dir(),
        reason="anywidget's JupyterLab extension is not installed",
    ),
]
LONG = 240_000  # ms: a kernel start and seven fits on a loaded two-core machine

SETUP = """\
%load_ext nbmlops
import nbmlops
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)"""

PANEL = "panel = nbmlops.panel()\npanel"

FOREST = """\
%%track -e forest -n rf-{i}
n_estimators = {n}
max_depth = {depth}
model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=0)
model.fit(Xtr, ytr)
accuracy = model.score(Xte, yte)"""

LINEAR = """\
%%track -e linear -n logreg-{i}
C = {C}
max_depth = "n/a"
clf = LogisticRegression(C=C, max_iter=5000).fit(Xtr, ytr)
accuracy = clf.score(Xte, yte)"""

REGISTER = """\
%register model --name cancer
nbmlops.register_model(LogisticRegression(max_iter=5000).fit(Xtr, ytr), "cancer")"""

FAILING = """\
%%track -e linear -n broken
C = -1.0
LogisticRegression(C=C).fit(Xtr, ytr)"""


def notebook() -> nbformat.NotebookNode:
    cells = [SETUP, PANEL]
    cells += [
        FOREST.format(i=i, n=n, depth=depth)
        for i, (n, depth) in enumerate([(10, 3), (20, None), (30, 8), (15, 5)])
    ]
    cells += [LINEAR.format(i=i, C=C) for i, C in enumerate([0.5, 2.0])]
    cells += [REGISTER, FAILING]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(workspace, tmp_path):
    """`jupyter lab` on loopback with a token over a folder holding the notebook."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nbformat.write(notebook(), notebooks / "panel.ipynb")
    config = tmp_path / "jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}'
    )
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "NBMLOPS_HOME": str(workspace),
    }
    log = (tmp_path / "lab.log").open("wb")
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
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}api/status?token={token}") as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "jupyter lab did not start:\n" + (tmp_path / "lab.log").read_text()
                )
            time.sleep(0.25)
        yield base, token
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _boxes(grid) -> dict:
    """Bounding boxes of the run table: header cells by column key, body cells by column,
    and the rows (read in one round trip, in the page)."""
    return grid.evaluate(
        """(grid) => {
            const box = (e) => { const r = e.getBoundingClientRect();
                                 return {x: r.x, y: r.y, w: r.width, h: r.height}; };
            const heads = {};
            for (const th of grid.querySelectorAll('th[data-key]')) heads[th.dataset.key] = box(th);
            const cells = {};
            for (const td of grid.querySelectorAll('tbody td[data-key]'))
                (cells[td.dataset.key] ||= []).push(box(td));
            const rows = [...grid.querySelectorAll('tbody tr.nbmlops-grid-row')].map(box);
            const td = grid.querySelector('tbody td[data-key]');
            const line = td ? parseFloat(getComputedStyle(td).lineHeight) : 0;
            const scroll = grid.querySelector('.nbmlops-grid-scroll');
            return {heads, cells, rows, line,
                    scrollWidth: scroll.scrollWidth, clientWidth: scroll.clientWidth};
        }"""
    )


def assert_aligned(grid) -> dict:
    """Every header cell overlaps the x-range of each body cell of its column, and every
    row is one line high."""
    geometry = _boxes(grid)
    assert geometry["heads"] and geometry["rows"]
    for key, head in geometry["heads"].items():
        for cell in geometry["cells"][key]:
            overlap = min(head["x"] + head["w"], cell["x"] + cell["w"]) - max(head["x"], cell["x"])
            assert overlap > 0, (key, head, cell)
            assert abs(head["x"] - cell["x"]) < 1 and abs(head["w"] - cell["w"]) < 1, (
                key,
                head,
                cell,
            )
    line = geometry["line"]
    for row in geometry["rows"]:
        assert row["h"] < 2 * line, f"a row wraps: {row['h']} px high, line {line} px"
    return geometry


def _prepare_approval_and_rollout() -> tuple[int, int]:
    """In this process, as alice: cancer v1 in production, a v3 asked for production under a
    four-eyes policy (pending), and a canary of v3. Returns (request id, rollout id)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    import nbmlops

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    nbmlops.promote("cancer", 1, reason="first")
    v3 = nbmlops.register_model(LogisticRegression(max_iter=5000).fit(X, y), "cancer")
    nbmlops.set_policy("cancer", production={"approvals": 1, "separate_approver": True})
    request = nbmlops.promote("cancer", v3.version, reason="alice asks for v3")
    rollout = nbmlops.rollout("cancer", candidate=v3.version, mode="canary", steps=[10, 100])
    return request.id, rollout.id


def test_panel_in_jupyterlab(lab, tmp_path, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    base, token = lab
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)  # a loaded machine: wait on conditions, generously
        page.goto(f"{base}lab/tree/panel.ipynb?token={token}")
        expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible()

        # Run every cell: the panel shows up, then refreshes as the tracked cells run; the
        # last cell fails (a FAILED run) and stops the run there.
        expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=LONG)
        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
        cells = page.locator(".jp-Notebook .jp-Cell")
        expect(cells.last.locator(".jp-OutputArea")).to_contain_text("FAILED", timeout=LONG)
        panel = page.locator(".widget-tab").first
        grid = panel.locator(".nbmlops-grid").first
        rows = grid.locator("tbody tr.nbmlops-grid-row")
        expect(rows).to_have_count(7, timeout=LONG)
        expect(grid.locator("td[data-key=status]", has_text="FAILED")).to_have_count(1)
        # The experiment selector shows its value (a None value would show a blank box).
        shown = panel.locator("select option:checked").first.text_content()
        assert shown.replace("\xa0", " ") == "all experiments"  # ipywidgets writes &nbsp;

        # The user's params and metrics first; captured model params after; constant hidden.
        heads = grid.locator("th.nbmlops-head")
        keys = heads.evaluate_all("(hs) => hs.map((h) => h.dataset.key)")
        assert keys[:6] == ["run_id", "name", "experiment", "status", "start_time", "duration_s"]
        assert keys.index("params.max_depth") < keys.index("metrics.accuracy")
        assert keys.index("metrics.accuracy") < keys.index("params.model.n_estimators")
        assert "params.model.bootstrap" not in keys, "constant across the runs: hidden"
        groups = grid.locator("th.nbmlops-group").all_text_contents()
        assert groups[:3] == ["attributes", "params", "metrics"]
        assert "model: RandomForestClassifier" in groups
        depth = grid.locator("tbody tr", has_text="rf-2").locator("td[data-key='params.max_depth']")
        expect(depth).to_have_text("8")  # an int, not 8.0, beside None and "n/a"
        grid.scroll_into_view_if_needed()
        geometry = assert_aligned(grid)
        assert geometry["scrollWidth"] > geometry["clientWidth"], "wide tables scroll sideways"
        SCREENSHOTS = screenshot_dir(tmp_path)
        panel.screenshot(path=str(SCREENSHOTS / "widgets-runs-1280.png"))

        # Sort by clicking a header; the column chooser; the constant-column toggle.
        accuracy = grid.locator("tbody td[data-key='metrics.accuracy']")
        # One precision per column: the texts sort as the numbers do.
        best = max(t for t in accuracy.all_text_contents() if t != "—")
        grid.locator("th[data-key='metrics.accuracy']").click()
        expect(grid.locator("th[data-key='metrics.accuracy']")).to_contain_text("▼")
        expect(accuracy.first).to_have_text(best)
        numbers = [float(a) for a in accuracy.all_text_contents() if a != "—"]
        assert numbers == sorted(numbers, reverse=True)
        grid.locator(".nbmlops-grid-chooser summary").click()
        grid.locator(".nbmlops-grid-menu input[data-key='params.model.criterion']").check()
        expect(grid.locator("th[data-key='params.model.criterion']")).to_be_visible()
        page.keyboard.press("Escape")
        grid.locator(".nbmlops-grid-bar").click(position={"x": 600, "y": 5})  # closes the menu
        grid.locator(".nbmlops-grid-constant").check()
        expect(grid.locator("th[data-key='params.model.bootstrap']")).to_be_visible()
        grid.locator(".nbmlops-grid-constant").uncheck()
        expect(grid.locator("th[data-key='params.model.bootstrap']")).to_have_count(0)

        # 1920 px: still aligned, one line per row.
        page.set_viewport_size({"width": 1920, "height": 1000})
        expect(rows).to_have_count(7)
        assert_aligned(grid)
        panel.screenshot(path=str(SCREENSHOTS / "widgets-runs-1920.png"))

        # The other tabs render.
        tabs = panel.locator(".lm-TabBar-tab")
        tabs.filter(has_text="Models").click()
        expect(panel.locator(".nbmlops-versions")).to_contain_text("v2")
        expect(panel.locator(".nbmlops-versions")).to_contain_text("LogisticRegression")
        # Delete v2 (the version without a run) through the confirmation step.
        versions = panel.locator(".nbmlops-versions")
        expect(versions.locator("b", has_text="v2")).to_have_count(1)
        panel.locator("button.jupyter-button", has_text="Delete…").click()
        expect(panel.get_by_text("It leaves the registry")).to_be_visible()
        panel.locator("button.jupyter-button", has_text="Confirm").click()
        expect(panel.get_by_text("deleted cancer v2")).to_be_visible()
        expect(versions.locator("b", has_text="v2")).to_have_count(0)
        tabs.filter(has_text="Features").click()
        expect(panel.get_by_text("no feature views match")).to_be_visible()
        tabs.filter(has_text="Reports").click()
        expect(panel.get_by_text("no saved drift reports yet")).to_be_visible()

        # Abort and approve from the panel: alice (this process) opened a canary of v3 and
        # asked for v3 in production; the kernel's user decides. A cell refreshes the panel.
        import nbmlops

        monkeypatch.setenv("NBMLOPS_USER", "alice")
        request_id, rollout_id = _prepare_approval_and_rollout()
        cells.last.locator(".jp-InputPrompt").click()
        page.keyboard.press("Escape")
        page.keyboard.press("b")
        page.keyboard.press("Enter")
        page.keyboard.type("panel.refresh()")
        page.keyboard.press("Shift+Enter")
        tabs.filter(has_text="Serving").click()
        serving = panel.locator(".nbmlops-rollouts")
        expect(serving).to_contain_text("v1 90% · v3 10%")
        panel.locator(".widget-dropdown", has_text="rollout").locator("select").select_option(
            label=f"{rollout_id}: cancer v3 (canary)"
        )
        panel.locator("button.jupyter-button", has_text="Abort").click()
        expect(panel.get_by_text(f"rollout {rollout_id}: cancer v3 vs v1")).to_contain_text(
            "[aborted]"
        )
        expect(serving).to_contain_text("aborted by")
        assert nbmlops.get_rollout(rollout_id).state == "aborted"
        panel.screenshot(path=str(SCREENSHOTS / "widgets-serving.png"))
        tabs.filter(has_text="Models").click()
        requests = panel.locator(".nbmlops-requests")
        expect(requests).to_contain_text("alice asks for v3")
        panel.locator(".widget-textarea", has_text="reason").locator("textarea").fill("ok")
        panel.locator("button.jupyter-button", has_text="Approve").click()
        expect(panel.get_by_text(f"request {request_id} approved")).to_be_visible()
        assert nbmlops.get_model("cancer").version == 3
        panel.screenshot(path=str(SCREENSHOTS / "widgets-approved.png"))

        # Compare two runs: tick them, press Compare; the tables and both charts render.
        tabs.filter(has_text="Runs").click()
        for name in ("rf-0", "rf-2"):
            grid.locator("tbody tr", has_text=name).locator("input[type=checkbox]").check()
        started = time.monotonic()
        panel.locator("button.jupyter-button", has_text=re.compile(r"^\s*Compare\s*$")).click()
        charts = panel.locator(".js-plotly-plot")
        expect(charts).to_have_count(2, timeout=LONG)
        print(f"compare rendered in {time.monotonic() - started:.1f} s")
        expect(panel.get_by_text("Comparing 2 runs")).to_be_visible()
        axes = charts.nth(1).locator(".xtick text").all_text_contents()
        assert axes == [
            "max_depth",
            "n_estimators",
            "model.max_depth",
            "model.n_estimat…",
            "accuracy",
        ], "the params that differ (the user's first), then the metric"
        expect(panel.get_by_text("18 the same in every run")).to_be_visible()  # folded
        # Tall enough for the whole view: JupyterLab scrolls the notebook inside the window.
        page.set_viewport_size({"width": 1280, "height": 2000})
        expect(charts).to_have_count(2)
        panel.scroll_into_view_if_needed()
        panel.screenshot(path=str(SCREENSHOTS / "widgets-compare.png"))
        browser.close()
    assert not [e for e in errors if "nbmlops" in e or "anywidget" in e], errors
