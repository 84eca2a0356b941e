"""Screenshots for docs/widgets.md of what nbconvert and GitHub show: the static HTML of the
panel and a failed promotion's gate table, rendered in headless Chromium.

    python docs/make_screenshots.py        # writes docs/img/widgets-panel.png, widgets-gates.png

The live widgets in JupyterLab (widgets-runs-1280.png, widgets-runs-1920.png,
widgets-compare.png) are taken by the browser test tests/widgets/test_panel_ui.py.

Uses Debian's Chromium through Playwright (``executable_path="/usr/bin/chromium"``); it never
downloads a browser. The workspace is a throwaway folder with a few runs, two model versions
and a saved drift report.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "img"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def build_workspace() -> list[str]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    import nbmlops

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    ids = []
    codes = [
        "model = DecisionTreeClassifier(max_depth=3)\nmodel.fit(Xtr, ytr)\n",
        "model = DecisionTreeClassifier(max_depth=6)\nmodel.fit(Xtr, ytr)\n",
        "model = LogisticRegression(C=1.0, max_iter=5000)\nmodel.fit(Xtr, ytr)\n",
    ]
    for i, (depth, model) in enumerate(
        [
            (3, DecisionTreeClassifier(max_depth=3, random_state=0)),
            (6, DecisionTreeClassifier(max_depth=6, random_state=0)),
            (0, LogisticRegression(C=1.0, max_iter=5000)),
        ]
    ):
        with nbmlops.start_run(name=["tree-3", "tree-6", "logreg"][i], experiment="cancer") as run:
            run.log_params({"model": type(model).__name__, "max_depth": depth or None, "C": 1.0})
            for step in range(8):
                run.log_metric("val_loss", 0.7 / (step + 1) ** (0.4 + i * 0.15), step=step)
            model.fit(X, y)
            run.log_metric("accuracy", float(model.score(X, y)) - 0.03 * i)
            run.log_input(X.head(400 + 50 * i), "Xtr")
            run._store.meta.update_run(run.run_id, code=codes[i])
            if i != 1:
                nbmlops.register_model(model, "cancer", run=run)
            ids.append(run.run_id)
    for i in range(9):
        with nbmlops.start_run(name=f"sweep-{i}", experiment="sweep") as run:
            run.log_params({"C": [0.01, 0.1, 1.0][i % 3], "max_depth": 2 + i})
            run.log_metric("accuracy", 0.88 + i / 100)
    nbmlops.promote("cancer", 1, reason="first model")
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"radius": rng.normal(14, 3, 500), "texture": rng.normal(19, 4, 500)})
    cur = pd.DataFrame({"radius": rng.normal(16, 3, 500), "texture": rng.normal(19, 4, 500)})
    nbmlops.drift_report(ref, cur).save(name="march-scoring")
    return ids


def page(body: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="margin:16px;background:#fff">{body}</body></html>'
    )


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="nbmlops-shots-"))
    os.environ["NBMLOPS_HOME"] = str(home)
    import nbmlops
    from nbmlops.errors import GateFailed
    from nbmlops.widgets import Panel
    from nbmlops.widgets.models_panel import gate_table_html

    nbmlops.configure(reset=True)
    build_workspace()
    panel = Panel(page_size=10)
    try:
        nbmlops.promote("cancer", 2, gates=["metrics.accuracy >= champion.metrics.accuracy"])
        gates = ""
    except GateFailed as exc:
        gates = gate_table_html(exc)
    shots = {
        "widgets-panel.png": page(panel.to_html()),
        "widgets-gates.png": page(panel.models.versions.value + gates),
    }
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1000, "height": 700})
        for name, html in shots.items():
            source = home / (name + ".html")
            source.write_text(html, encoding="utf-8")
            tab.goto(source.as_uri())
            tab.screenshot(path=str(OUT / name), full_page=True)
            print(f"wrote {OUT / name}")
        browser.close()
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
