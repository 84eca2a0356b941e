"""The MLOps panel in a real JupyterLab, driven in Debian's Chromium with Playwright.

`jupyter lab` runs on loopback with a token over a workspace holding runs and a model. The
test reads the panel at its default width (250 px) and checks from element geometry that no
text leaves it; opens a run, inserts its ``%%track`` cell into a notebook and runs it (the
visible panel refreshes with the new run); makes a run while the panel is hidden, then shows
it (the run is listed); promotes through a failing gate (the gate table shows, nothing
changes), then without gates; deletes a version. A second test opens the panel on an empty
workspace (it says what to do). Screenshots at 1280 and 1920 px go to docs/img/.

Every wait is on a condition with a generous deadline (``WAIT``): on a busy 2-core machine
a kernel start or a first page render can take tens of seconds.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

import nbmlops
from tests.conftest import screenshot_dir

from .conftest import CHAMPION_GATE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]
WAIT = 120_000  # ms: the deadline of every wait in the page
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
    pytest.mark.skipif(
        not (Path(sys.prefix) / "share/jupyter/labextensions/nbmlops/package.json").is_file(),
        reason="the nbmlops lab extension is not installed (pip install -e .)",
    ),
]

# Everything in the panel that is laid out wrongly at its current width: text (measured by
# its own extent, which may overflow its element) right or left of the panel unless a
# scrolling box inside the panel holds it or an ellipsis cuts it with the full text in a
# title; a cut text without a title; a name wrapped onto several lines; a clipped number.
LAYOUT_PROBLEMS = """
() => {
  const panel = document.querySelector('#nbmlops-panel');
  const box = panel.getBoundingClientRect();
  const problems = [];
  const describe = el => `${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 40)}"`;
  const inside = r => r.left >= box.left - 1 && r.right <= box.right + 1;
  const walker = document.createTreeWalker(panel, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const r = range.getBoundingClientRect();
    if ((r.width === 0 && r.height === 0) || inside(r)) continue;
    let holder = node.parentElement;
    while (holder !== panel && getComputedStyle(holder).overflowX === 'visible') {
      holder = holder.parentElement;
    }
    const how = getComputedStyle(holder).overflowX;
    const scrolls = how === 'auto' || how === 'scroll';
    const titled = holder.title || node.parentElement.title;
    const own = !holder.classList.contains('nbmlops-body') && holder !== panel;
    if (!(own && inside(holder.getBoundingClientRect()) && (scrolls || titled))) {
      problems.push(`outside the panel: ${describe(node.parentElement)}`);
    }
  }
  for (const el of panel.querySelectorAll('button, input, select, textarea, svg')) {
    const r = el.getBoundingClientRect();
    if (r.width && !inside(r)) problems.push(`outside the panel: ${describe(el)}`);
  }
  for (const el of panel.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (style.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1 && !el.title) {
      problems.push(`cut without a title: ${describe(el)}`);
    }
  }
  const names = '.nbmlops-run-name, .nbmlops-kv-key, .nbmlops-title-text, .nbmlops-model-name';
  for (const el of panel.querySelectorAll(names)) {
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (el.getBoundingClientRect().height > 2 * size) {
      problems.push(`wrapped onto several lines: ${describe(el)}`);
    }
  }
  for (const el of panel.querySelectorAll('.nbmlops-metrics .nbmlops-num, .nbmlops-run-metric')) {
    if (el.scrollWidth > el.clientWidth + 1) problems.push(`clipped number: ${describe(el)}`);
  }
  return problems;
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyter_lab(tmp_path: Path):
    """A `jupyter lab` subprocess over the workspace of ``NBMLOPS_HOME``, with one notebook
    (``analysis.ipynb``, ``%load_ext nbmlops``): yields (base url, token)."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("%load_ext nbmlops"))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, notebooks / "analysis.ipynb")
    config = tmp_path / "jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    # No "get Jupyter news?" toast over the page.
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    # The built sidebar of the nbmlops under test, ahead of whatever copy pip installed (an
    # editable install copies the bundle once; a worktree has its own).
    data = tmp_path / "jupyter-data"
    (data / "labextensions").mkdir(parents=True)
    (data / "labextensions" / "nbmlops").symlink_to(Path(nbmlops.__file__).parent / "labextension")
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "JUPYTER_PATH": os.pathsep.join([str(data), os.environ.get("JUPYTER_PATH", "")]).rstrip(
            os.pathsep
        ),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "NBMLOPS_HOME": os.environ["NBMLOPS_HOME"],  # the workspace of the test
    }
    log = (tmp_path / "lab.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",  # CI runs as root
            "--LabApp.extension_manager=readonly",  # no PyPI look-ups from the page
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
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{base}nbmlops/api/models?token={token}") as r:
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
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def lab(filled, tmp_path):
    """JupyterLab over the filled workspace, whose model 'iris' also has a v3 without a run."""
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    nbmlops.register_model(DecisionTreeClassifier(max_depth=3).fit(X, y), "iris")
    with jupyter_lab(tmp_path) as server:
        yield server


@pytest.fixture
def empty_lab(workspace, tmp_path):
    with jupyter_lab(tmp_path) as server:
        yield server


@pytest.fixture
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT)  # the default, 5 s, fails on a busy machine
    with sync_playwright() as p:
        chromium = p.chromium.launch(
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
        try:
            yield chromium
        finally:
            chromium.close()
            expect.set_options(timeout=None)


def run_all_cells(page, attempts: int = 4) -> None:
    """Run every cell of the open notebook from the command palette, as a user would.

    On a busy machine each step can miss: the shortcut can reach the page before the shell
    listens (the palette never opens), the palette can act on a list it has not filtered yet,
    and the command is disabled (a click does nothing) until the shell has made the notebook
    current after the sidebar had the focus. So every step of an attempt waits a bounded time,
    and the attempt counts only once a cell shows it was queued (``[*]`` or a number in its
    prompt); until then nothing ran, and starting again from the notebook is safe.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    prompts = page.locator(".jp-Notebook .jp-Cell .jp-InputArea-prompt")
    palette = page.locator(".lm-CommandPalette-input")
    label = page.locator(".lm-CommandPalette-itemLabel", has_text=re.compile(r"^Run All Cells$"))
    enabled = page.locator(".lm-CommandPalette-item:not(.lm-mod-disabled)").filter(has=label)
    for attempt in range(attempts):
        try:
            page.get_by_role("tab", name="analysis.ipynb").click(timeout=30_000)
            page.locator(".jp-Notebook").click(timeout=30_000)
            page.keyboard.press("Control+Shift+C")
            expect(palette).to_be_visible(timeout=20_000)
            palette.fill("Run All Cells", timeout=20_000)
            enabled.first.click(timeout=30_000)
            expect(prompts.first).to_have_text(re.compile(r"\[(\*|\d+)\]"), timeout=20_000)
            return
        except (AssertionError, PlaywrightError):  # a Playwright timeout is an Error
            if attempt == attempts - 1:
                raise
            if palette.is_visible():
                page.keyboard.press("Escape")


def open_lab(browser, base: str, token: str, width: int = 1280, height: int = 800):
    """A page on the notebook with the MLOps panel open; returns (page, panel, errors)."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(WAIT)
    page.set_default_navigation_timeout(WAIT)
    page.goto(f"{base}lab/tree/analysis.ipynb?token={token}")
    expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible()
    sidebar_tab(page).click()
    panel = page.locator("#nbmlops-panel")
    expect(panel).to_be_visible()
    return page, panel, errors


def sidebar_tab(page):
    return page.locator('.jp-SideBar .lm-TabBar-tab[data-id="nbmlops-panel"]')


def assert_readable(page, panel) -> None:
    """The panel is at its default width and nothing in it is laid out wrongly."""
    width = panel.bounding_box()["width"]
    assert 240 <= width <= 260, f"the sidebar is {width} px wide, not its default ~250 px"
    assert page.evaluate(LAYOUT_PROBLEMS) == []


def test_panel_runs_insert_cell_promote_through_gates_and_delete(lab, filled, browser, tmp_path):
    from playwright.sync_api import expect

    base, token = lab
    page, panel, errors = open_lab(browser, base, token)
    SCREENSHOTS = screenshot_dir(tmp_path)

    # The run names are listed, each whole on one line or cut with its full name on hover.
    expect(panel.locator(".nbmlops-pager")).to_contain_text("1–9 of 9")
    names = panel.locator(".nbmlops-run-name").all_text_contents()
    assert names[:4] == ["tree-1", "tree-2", "run-6", "run-5"]
    assert_readable(page, panel)

    # Open a run: param values, a metric chart, the code, all inside the 250 px panel.
    panel.locator(".nbmlops-run-row", has_text="run-3").click()
    run = panel.locator(".nbmlops-run")
    expect(run.locator(".nbmlops-title")).to_contain_text("run-3")
    params = run.locator(".nbmlops-params .nbmlops-kv-row")
    expect(params).to_have_text(["C0.1", "penaltyl2"])
    expect(run.locator(".nbmlops-sparkline polyline")).to_have_count(1)
    expect(run.locator(".nbmlops-code")).to_contain_text("C = 0.1")
    assert_readable(page, panel)

    # Insert its %%track cell into the open notebook.
    run.get_by_role("button", name="Insert as new cell").click()
    cells = page.locator(".jp-Notebook .jp-Cell")
    expect(cells).to_have_count(2)
    expect(cells.nth(1)).to_contain_text("%%track --name run-3 --experiment search")
    page.screenshot(path=str(SCREENSHOTS / "jupyterlab-panel.png"))

    # Run the notebook while the panel is visible: a cell finishing refreshes it.
    panel.get_by_role("button", name="‹ Back").click()
    run_all_cells(page)
    expect(cells.nth(1).locator(".jp-OutputArea-output")).to_contain_text("FINISHED")
    expect(panel.locator(".nbmlops-pager")).to_contain_text("of 10")
    expect(panel.locator(".nbmlops-run-name").first).to_have_text("run-3")

    # A run made while the panel is hidden is listed as soon as the panel shows again.
    sidebar_tab(page).click()
    expect(panel).to_be_hidden()
    cells.nth(1).locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    expect(cells).to_have_count(3)
    page.keyboard.press("Enter")
    page.keyboard.type("%%track --name made-while-hidden\naccuracy = 0.99")
    page.keyboard.press("Shift+Enter")
    expect(cells.nth(2).locator(".jp-OutputArea-output")).to_contain_text("FINISHED")
    assert nbmlops.runs()["name"].iloc[0] == "made-while-hidden"
    sidebar_tab(page).click()
    expect(panel.locator(".nbmlops-run-name").first).to_have_text("made-while-hidden")
    expect(panel.locator(".nbmlops-pager")).to_contain_text("of 11")

    # The palette has the panel's commands.
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill("MLOps")
    expect(page.locator(".lm-CommandPalette-item", has_text="MLOps: Show Models")).to_be_visible()
    page.keyboard.press("Escape")

    # The model: v1 in production through a gate; nothing to roll back to yet.
    panel.locator('.nbmlops-tab[data-tab="models"]').click()
    panel.locator('.nbmlops-model-row[data-model="iris"]').click()
    v1 = panel.locator('.nbmlops-version-row[data-version="1"]')
    v2 = panel.locator('.nbmlops-version-row[data-version="2"]')
    v3 = panel.locator('.nbmlops-version-row[data-version="3"]')
    expect(v1.locator(".nbmlops-alias")).to_have_text(["production"])
    rollback = panel.get_by_role("button", name="Rollback production…")
    expect(rollback).to_be_disabled()
    expect(rollback).to_have_attribute("title", "Nothing to roll back to: " + ROLLBACK_NONE)
    expect(v1.get_by_role("button", name="Delete…")).to_be_disabled()
    assert_readable(page, panel)

    # Promote v2: the dialog offers the gate v1 passed; v2 fails it, the dialog shows the
    # gate table and nothing changes.
    history_before = nbmlops.model_history("iris")
    v2.get_by_role("button", name="Promote…").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator(".nbmlops-gates")).to_have_value(CHAMPION_GATE)
    dialog.locator(".nbmlops-reason").fill("retrained on fresh data")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    failure = dialog.locator(".nbmlops-failure")
    expect(failure).to_contain_text("1 of 1 gate failed: nothing was changed.")
    expect(failure.locator(".nbmlops-gate-failed")).to_contain_text(CHAMPION_GATE)
    expect(failure.locator(".nbmlops-gate-failed .nbmlops-num")).to_have_text(["0.8", "0.9"])
    page.screenshot(path=str(SCREENSHOTS / "jupyterlab-gates.png"))
    assert nbmlops.get_model("iris").version == 1
    assert nbmlops.model_history("iris").equals(history_before)
    expect(v1.locator(".nbmlops-alias")).to_have_text(["production"])

    # Without the gate (cleared in the dialog it reopened with) the promotion goes through.
    expect(dialog.locator(".nbmlops-reason")).to_have_value("retrained on fresh data")
    dialog.locator(".nbmlops-gates").fill("")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    expect(v2.locator(".nbmlops-alias")).to_have_text(["production"])
    expect(v1.locator(".nbmlops-alias")).to_have_text(["archived"])
    expect(panel.locator(".nbmlops-history")).to_contain_text("retrained on fresh data")
    expect(rollback).to_be_enabled()
    expect(rollback).to_have_attribute("title", "Put v1 back in production (v2 is archived)")

    # Delete v3 (never in production, no alias): gone from the list, kept in the history.
    v3.get_by_role("button", name="Delete…").click()
    dialog.locator(".nbmlops-reason").fill("never used")
    dialog.get_by_role("button", name="Delete").click()
    expect(v3).to_have_count(0)
    expect(panel.locator(".nbmlops-history li").first).to_contain_text("v3 delete")
    expect(panel.locator(".nbmlops-status")).to_have_text("Deleted iris v3.")
    assert_readable(page, panel)
    page.screenshot(path=str(SCREENSHOTS / "jupyterlab-models.png"))

    # At 1920 px the panel keeps its width and its layout.
    page.set_viewport_size({"width": 1920, "height": 1080})
    panel.locator('.nbmlops-tab[data-tab="runs"]').click()
    expect(panel.locator(".nbmlops-run-name").first).to_have_text("made-while-hidden")
    assert_readable(page, panel)
    page.screenshot(path=str(SCREENSHOTS / "jupyterlab-runs-1920.png"))
    page.close()

    assert nbmlops.get_model("iris").version == 2
    assert sorted(nbmlops.model_versions("iris")["version"]) == [1, 2]
    history = nbmlops.model_history("iris")
    promoted = history.loc[history["to_stage"] == "production"]
    assert promoted["reason"].iloc[-1] == "retrained on fresh data"
    assert promoted["gates"].iloc[-1] is None
    assert not [e for e in errors if "nbmlops" in e], errors


ROLLBACK_NONE = "v1 is the only version iris has had in production"


def test_empty_workspace_says_what_to_do_and_shows_runs_made_while_hidden(empty_lab, browser):
    from playwright.sync_api import expect

    base, token = empty_lab
    page, panel, errors = open_lab(browser, base, token)
    empty = panel.locator(".nbmlops-empty-state")
    expect(empty).to_contain_text("No runs yet.")
    expect(empty).to_contain_text("%load_ext nbmlops")
    expect(empty).to_contain_text("%%track")
    assert_readable(page, panel)
    panel.locator('.nbmlops-tab[data-tab="models"]').click()
    expect(empty).to_contain_text("No registered models yet.")
    expect(empty).to_contain_text("%register model --name churn")
    assert_readable(page, panel)
    panel.locator('.nbmlops-tab[data-tab="runs"]').click()
    expect(empty).to_contain_text("No runs yet.")

    # Hidden, then a run is made (here from this process, on the same workspace): showing
    # the panel lists it, without any notebook cell finishing.
    sidebar_tab(page).click()
    expect(panel).to_be_hidden()
    with nbmlops.start_run(name="first-run", experiment="baseline"):
        nbmlops.log_metric("accuracy", 0.5)
    sidebar_tab(page).click()
    expect(panel.locator(".nbmlops-run-name")).to_have_text(["first-run"])
    expect(panel.locator(".nbmlops-empty-state")).to_have_count(0)
    page.close()
    assert not [e for e in errors if "nbmlops" in e], errors


def _request_rows(client, url: str, n: int) -> None:
    from sklearn.datasets import load_iris

    X, _ = load_iris(return_X_y=True, as_frame=True)
    for i in range(n):
        body = {"dataframe_split": X.iloc[[i]].to_dict(orient="split")}
        response = client.post(f"{url}/invocations", json=body)
        assert response.status_code == 200, response.text


def test_sidebar_serving_abort_and_approvals(lab, filled, browser, tmp_path, monkeypatch):
    """Serving: a real server and a canary with a failing guard (judged only after 10⁶
    requests, so it stays running); the sidebar shows the server, its versions, the arms and
    the guard values, and aborts it with a reason. Approvals: a request opened by another
    user is approved in the sidebar; a promotion from the sidebar under the policy opens a
    request (nothing moves) that is then rejected."""
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("uvicorn")
    from playwright.sync_api import expect

    from tests.serving.conftest import wait_for

    base, token = lab
    shots = screenshot_dir(tmp_path)
    monkeypatch.setenv("NBMLOPS_USER", "alice")  # this process; the lab acts as its OS user
    nbmlops.set_policy(
        "iris",
        production={
            "approvals": 1,
            "separate_approver": True,
            "gates": ["metrics.accuracy >= 0.5"],
        },
    )
    asked = nbmlops.promote("iris", 2, reason="alice asks for v2")
    server = nbmlops.serve("iris", poll=0.2, evaluate_every=0.5)
    try:
        rollout = nbmlops.rollout(
            "iris",
            candidate=2,
            mode="canary",
            steps=[50, 100],
            guards=["error_rate < 0.01", "latency.p99_ms < 0.0001"],
            min_requests=10**6,
        )
        wait_for(lambda: server.status()["iris"].get("rollout"), what="the canary served")
        with httpx.Client(timeout=30) as client:
            _request_rows(client, server.url, 40)
        wait_for(
            lambda: nbmlops.get_rollout(rollout.id).status()["requests"] > 0,
            what="candidate requests logged",
        )

        page, panel, errors = open_lab(browser, base, token)
        panel.locator('.nbmlops-tab[data-tab="serving"]').click()
        card = panel.locator(f'.nbmlops-rollout[data-rollout="{rollout.id}"]')
        expect(card.locator(".nbmlops-card-head")).to_contain_text("iris v2")
        expect(card.locator(".nbmlops-arm-share")).to_have_text(["50%", "50%"])
        expect(card.locator(".nbmlops-arm-version")).to_have_text(["v1", "v2"])
        checks = card.locator(".nbmlops-check")
        expect(checks).to_have_count(2)
        expect(checks.nth(0).locator(".nbmlops-badge")).to_have_text("PASS")
        expect(checks.nth(1).locator(".nbmlops-badge")).to_have_text("FAIL")
        expect(card.locator(".nbmlops-subhead").first).to_contain_text("1 failing")
        live = panel.locator(".nbmlops-server", has_text=server.url)
        expect(live.locator(".nbmlops-server-live")).to_have_text("live")
        expect(live.locator(".nbmlops-served")).to_contain_text("v1 + v2 50%")
        assert_readable(page, panel)
        page.screenshot(path=str(shots / "jupyterlab-serving-1280.png"))

        # Abort: a reason, a confirmation; every server back on v1.
        card.get_by_role("button", name="Abort…").click()
        dialog = page.locator(".jp-Dialog")
        expect(dialog).to_contain_text("Every server sends all traffic back to v1")
        dialog.locator(".nbmlops-reason").fill("p99 far too high")
        dialog.get_by_role("button", name="Abort rollout").click()
        expect(panel.locator(".nbmlops-status")).to_have_text(
            f"Rollout {rollout.id} aborted: iris is back on v1."
        )
        assert rollout.state == "aborted"
        assert rollout.status()["reason"].endswith(": p99 far too high")
        wait_for(lambda: "rollout" not in server.status()["iris"], what="the server on v1 alone")
        ended = panel.locator(f'.nbmlops-rollout[data-rollout="{rollout.id}"]')
        expect(ended.locator(".nbmlops-status-aborted")).to_have_text("aborted")
        expect(ended.get_by_role("button", name="Abort…")).to_have_count(0)
        panel.locator(".nbmlops-refresh").click()
        expect(live.locator(".nbmlops-served")).to_have_text("irisv1")
        assert_readable(page, panel)

        # Approvals: alice's request, its gate table; approved here by the lab's user.
        panel.locator('.nbmlops-tab[data-tab="approvals"]').click()
        request = panel.locator(f'.nbmlops-request[data-request="{asked.id}"]')
        expect(request.locator(".nbmlops-card-head")).to_contain_text("iris v2 → production")
        expect(request).to_contain_text("by alice")
        expect(request).to_contain_text("four eyes")
        expect(request.locator(".nbmlops-check .nbmlops-badge")).to_have_text(["PASS"])
        assert_readable(page, panel)
        page.screenshot(path=str(shots / "jupyterlab-approvals-1280.png"))
        request.get_by_role("button", name="Approve…").click()
        dialog.locator(".nbmlops-reason").fill("gates hold, looked at the card")
        dialog.get_by_role("button", name="Approve").click()
        expect(panel.locator(".nbmlops-status")).to_have_text(
            f"Request {asked.id} approved: iris v2 is now production."
        )
        assert asked.status == "approved" and nbmlops.get_model("iris").version == 2
        expect(panel.locator(".nbmlops-empty-state")).to_contain_text("No request waits")

        # The policy in the model's details; a promotion under it opens a request.
        panel.locator('.nbmlops-tab[data-tab="models"]').click()
        panel.locator('.nbmlops-model-row[data-model="iris"]').click()
        policy = panel.locator(".nbmlops-policy")
        expect(policy.locator(".nbmlops-kv-row")).to_have_text("production1 approval, four eyes")
        expect(policy.locator(".nbmlops-policy-gate")).to_have_text("metrics.accuracy >= 0.5")
        panel.locator('.nbmlops-version-row[data-version="1"]').get_by_role(
            "button", name="Promote…"
        ).click()
        dialog.locator(".nbmlops-gates").fill("")
        dialog.locator(".nbmlops-reason").fill("back to the deeper tree")
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        status = panel.locator(".nbmlops-status")
        expect(status).to_contain_text("opened: iris v1 → production waits for 1 approval")
        expect(status).to_contain_text("nothing moved yet")
        assert nbmlops.get_model("iris").version == 2
        [opened] = nbmlops.promotion_requests("iris")["id"].tolist()
        assert_readable(page, panel)

        # Rejected in the Approvals tab: nothing moves.
        panel.locator('.nbmlops-tab[data-tab="approvals"]').click()
        mine = panel.locator(f'.nbmlops-request[data-request="{opened}"]')
        mine.get_by_role("button", name="Reject…").click()
        dialog.locator(".nbmlops-reason").fill("not now")
        dialog.get_by_role("button", name="Reject").click()
        expect(status).to_contain_text(f"Request {opened} (iris v1 → production) is rejected")
        assert nbmlops.get_model("iris").version == 2

        # 1920 px: the same views keep their layout.
        page.set_viewport_size({"width": 1920, "height": 1080})
        panel.locator('.nbmlops-tab[data-tab="serving"]').click()
        expect(live.locator(".nbmlops-served")).to_have_text("irisv2")
        assert_readable(page, panel)
        page.screenshot(path=str(shots / "jupyterlab-serving-1920.png"))

        # The visible Serving tab reloads itself: a server that stops leaves the list.
        server.stop()
        expect(live).to_have_count(0)
        expect(
            panel.locator(".nbmlops-empty-title", has_text="No model server seen.")
        ).to_have_count(1)
        page.close()
        assert not [e for e in errors if "nbmlops" in e], errors
    finally:
        server.stop()
