"""The standalone HTML report in a real headless Chromium: it renders offline, the column
picker switches columns, and no user string runs as script."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest

import nbmlops

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
]
EVIL = "<img src=x onerror=alert(1)>"
UI_TIMEOUT_MS = 120_000


def test_report_renders_switches_columns_and_runs_no_user_script(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    rng = np.random.default_rng(0)
    n = 3000
    ref = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            EVIL: rng.choice(["a", "<b>x</b>"], n),
            "region": rng.choice(["north", "south"], n),
        }
    )
    cur = ref.copy()
    south = (cur["region"] == "south").to_numpy()
    cur.loc[south, "income"] += 15
    path = tmp_path / "report.html"
    nbmlops.drift_report(ref, cur, segments=["region"]).to_html(path)

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        events: list[str] = []
        page.on("dialog", lambda d: (events.append(f"dialog {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: events.append(f"error {e}"))
        page.on(
            "request",
            lambda r: events.append(f"request {r.url}") if not r.url.startswith("file:") else None,
        )
        page.goto(path.as_uri())
        # Wait on conditions with a generous timeout, never a fixed pause: a busy machine
        # renders slowly, not wrongly.
        page.wait_for_selector("#nbmlops-drift-figure .main-svg", timeout=UI_TIMEOUT_MS)
        title = page.locator(".gtitle").first.text_content()
        assert title.startswith("income") and "DRIFT" in title
        segment_labels = page.locator(".yaxislayer-above text, .ytick text").all_text_contents()
        assert "region=south" in segment_labels

        page.click(".updatemenu-header-group")
        items = page.locator(".updatemenu-item-text")
        labels = items.all_text_contents()
        assert EVIL in labels  # shown as text …
        items.nth(labels.index(EVIL, 1)).click()
        expect(page.locator(".gtitle").first).to_have_text(
            re.compile("^" + re.escape(EVIL)), timeout=UI_TIMEOUT_MS
        )
        bars = page.locator(".xtick text").all_text_contents()
        assert "<b>x</b>" in bars
        assert page.locator("table.nbmlops-summary").first.inner_text().count(EVIL) == 1
        browser.close()
    assert events == []  # … never run: no alert, no script error, nothing fetched
