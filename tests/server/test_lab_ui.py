"""The MLOps panel in a real JupyterLab, driven in Debian's Chromium with Playwright.

`jupyter lab` runs on loopback with a token over a workspace holding runs and a model; the
test opens the panel, sees the runs, opens one, inserts its ``%%track`` cell into a notebook
and runs it (the panel refreshes with the new run), then promotes a model version and sees
the stage badge move. It saves docs/img/jupyterlab-panel.png for docs/jupyterlab.md.
"""

from __future__ import annotations

import json
import os
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

import nbmlops

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "img"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
    pytest.mark.skipif(
        not (Path(sys.prefix) / "share/jupyter/labextensions/nbmlops/package.json").is_file(),
        reason="the nbmlops lab extension is not installed (pip install -e .)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(filled, tmp_path):
    """A `jupyter lab` subprocess over the filled workspace: (base url, token)."""
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
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "NBMLOPS_HOME": os.environ["NBMLOPS_HOME"],  # the workspace `filled` wrote
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
        deadline = time.monotonic() + 60
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
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_panel_runs_insert_cell_and_promote(lab, filled):
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
        page = browser.new_page(viewport={"width": 1400, "height": 860})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(30_000)
        page.goto(f"{base}lab/tree/analysis.ipynb?token={token}")
        expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible()

        # The MLOps panel from the left sidebar: the run names are listed.
        page.locator('.jp-SideBar .lm-TabBar-tab[data-id="nbmlops-panel"]').click()
        panel = page.locator("#nbmlops-panel")
        expect(panel.locator(".nbmlops-run-row").first).to_be_visible()
        names = panel.locator(".nbmlops-run-name").all_text_contents()
        assert names[:4] == ["tree-1", "tree-2", "run-6", "run-5"]
        expect(panel.locator(".nbmlops-pager")).to_contain_text("1–9 of 9")

        # Open a run: params, a metric chart, the code.
        panel.locator(".nbmlops-run-row", has_text="run-3").click()
        run = panel.locator(".nbmlops-run")
        expect(run.locator(".nbmlops-title")).to_contain_text("run-3")
        expect(run.locator(".nbmlops-kv")).to_contain_text("penalty")
        expect(run.locator(".nbmlops-sparkline polyline")).to_have_count(1)
        expect(run.locator(".nbmlops-code")).to_contain_text("C = 0.1")

        # Insert its %%track cell into the open notebook.
        run.get_by_role("button", name="Insert as new cell").click()
        cells = page.locator(".jp-Notebook .jp-Cell")
        expect(cells).to_have_count(2)
        expect(cells.nth(1)).to_contain_text("%%track --name run-3 --experiment search")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "jupyterlab-panel.png"))

        # Run the notebook: the tracked cell records a new run and the panel refreshes.
        panel.get_by_role("button", name="‹ Back").click()
        page.locator(".jp-Notebook").click()
        page.keyboard.press("Control+Shift+C")
        page.locator(".lm-CommandPalette-input").fill("Run All Cells")
        page.keyboard.press("Enter")
        # (the kernel starts first: allow for a loaded machine)
        expect(cells.nth(1).locator(".jp-OutputArea-output")).to_contain_text(
            "FINISHED", timeout=90_000
        )
        expect(panel.locator(".nbmlops-pager")).to_contain_text("of 10")
        assert panel.locator(".nbmlops-run-name").first.text_content() == "run-3"

        # The palette has the panel's commands.
        page.keyboard.press("Control+Shift+C")
        page.locator(".lm-CommandPalette-input").fill("MLOps")
        expect(
            page.locator(".lm-CommandPalette-item", has_text="MLOps: Show Models")
        ).to_be_visible()
        page.keyboard.press("Escape")

        # Promote v2 of the model through the confirmation dialog; the badge moves.
        panel.locator('.nbmlops-tab[data-tab="models"]').click()
        panel.locator('.nbmlops-model-row[data-model="iris"]').click()
        v1 = panel.locator('.nbmlops-version-row[data-version="1"]')
        v2 = panel.locator('.nbmlops-version-row[data-version="2"]')
        expect(v1.locator(".nbmlops-alias")).to_have_text(["production"])
        v2.get_by_role("button", name="Promote…").click()
        dialog = page.locator(".jp-Dialog")
        dialog.locator(".nbmlops-reason").fill("retrained on fresh data")
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        expect(v2.locator(".nbmlops-alias")).to_have_text(["production"])
        expect(v1.locator(".nbmlops-alias")).to_have_text(["archived"])
        expect(panel.locator(".nbmlops-history")).to_contain_text("retrained on fresh data")
        page.screenshot(path=str(SCREENSHOTS / "jupyterlab-models.png"))
        browser.close()

    assert nbmlops.get_model("iris").version == 2
    assert nbmlops.model_history("iris")["reason"].iloc[-1] == "retrained on fresh data"
    assert not [e for e in errors if "nbmlops" in e], errors
