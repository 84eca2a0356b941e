"""Executed in a real kernel and converted with nbconvert, every object's output keeps its
data: the widget view is there for JupyterLab, the static HTML for everything else."""

from __future__ import annotations

import nbformat
import pytest

WIDGET = "application/vnd.jupyter.widget-view+json"

SETUP = """
import numpy as np, pandas as pd, nbmlops
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
X, y = load_iris(return_X_y=True, as_frame=True)
ids = []
for depth in (1, 2):
    with nbmlops.start_run(name=f"tree-depth-{depth}", experiment="static") as r:
        r.log_params({"max_depth": depth, "criterion": "gini"})
        for step in range(3):
            r.log_metric("loss", 1 / (step + depth), step=step)
        r.log_metric("accuracy", 0.8 + depth / 20)
        mv = nbmlops.register_model(DecisionTreeClassifier(max_depth=depth).fit(X, y), "iris-static", run=r)
        ids.append(r.run_id)
rng = np.random.default_rng(0)
ref = pd.DataFrame({"income": rng.normal(50, 10, 300)})
cur = pd.DataFrame({"income": rng.normal(70, 10, 300)})
report = nbmlops.drift_report(ref, cur)
report.save(name="static-report")
suite = nbmlops.expectations_from(ref.assign(age=40))
from nbmlops import Entity, FeatureView, Field, features
view = features.apply(FeatureView("static_view", Entity("customer", join_keys=["customer_id"]),
                                  [Field("spend_7d", "float64", description="weekly spend")]))[0]
from nbmlops.pipelines.result import PipelineRun
pipe = PipelineRun(run_id=ids[0], status="FINISHED", outcome="ok", notebook="train_static.ipynb",
                   output=None, experiment="static", params={"max_depth": 1}, metrics={"accuracy": 0.85},
                   child_run_ids=[], duration_s=1.5, gates=None, notebook_hash="0" * 64)
"""

CELLS = {
    "run": ("nbmlops.get_run(ids[0])", ["tree-depth-1", "max_depth", "FINISHED"]),
    "compare": ("nbmlops.compare(*ids)", ["Comparing 2 runs", "max_depth", "accuracy"]),
    "model": (
        "nbmlops.get_model('models:/iris-static/2')",
        ["iris-static", "DecisionTreeClassifier"],
    ),
    "card": ("nbmlops.model_card('iris-static', 1)", ["Model card: iris-static", "max_depth"]),
    "drift": ("report", ["income", "drift"]),
    "validation": ("suite.validate(cur)", ["Validation", "age"]),
    "feature_view": ("view", ["static_view", "weekly spend", "customer_id"]),
    "pipeline": ("pipe", ["train_static.ipynb", "FINISHED"]),
    "panel": ("nbmlops.panel()", ["nbmlops", "tree-depth-2", "iris-static", "static-report"]),
}


@pytest.mark.slow
def test_outputs_survive_nbconvert(workspace):
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP)] + [
        nbformat.v4.new_code_cell(code) for code, _ in CELLS.values()
    ]
    NotebookClient(nb, kernel_name="python3", timeout=120, shutdown_kernel="immediate").execute()
    for (name, (_code, needles)), cell in zip(CELLS.items(), nb.cells[1:], strict=True):
        # A cell may display several outputs (a drift report: its tables, then its figure,
        # whose bundle carries its own text/html with plotly 5): read them all.
        data: dict[str, str] = {}
        for output in cell.outputs:
            assert output.output_type != "error", "".join(output.get("traceback", []))
            for mime, value in output.get("data", {}).items():
                text = value if isinstance(value, str) else str(value)
                data[mime] = data.get(mime, "") + text
        assert "text/html" in data and "text/plain" in data, name
        for needle in needles:
            assert needle in data["text/html"], (name, needle)
        if name in ("run", "compare", "panel"):
            assert WIDGET in data, f"{name}: a kernel gets the widget view"
    # JupyterLab saves no widget state by default: viewers fall back to the static HTML.
    nb.metadata.pop("widgets", None)
    body, _ = HTMLExporter().from_notebook_node(nb)
    for name, (_code, needles) in CELLS.items():
        for needle in needles:
            assert needle in body, (name, needle)
    assert "max_depth" in body and "tree-depth-1" in body
