"""Workspaces with runs, models, a drift report and a feature view for the widget tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbmlops


def make_runs(n: int = 7) -> list[str]:
    """``n`` runs in two experiments with params, a metric history, code and data."""
    ids = []
    data = pd.DataFrame({"x": np.arange(10.0), "y": np.arange(10) % 2})
    for i in range(n):
        experiment = "search" if i % 2 else "baseline"
        with nbmlops.start_run(name=f"run-{i}", experiment=experiment) as run:
            run.log_params({"C": [0.1, 1.0, 10.0][i % 3], "penalty": "l2" if i % 2 else "l1"})
            for step in range(3):
                run.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            run.log_metric("accuracy", 0.5 + i / 20)
            run.log_input(data.head(5 + i % 2), "train")
            run._store.meta.update_run(run.run_id, code=f"C = {[0.1, 1.0, 10.0][i % 3]}\nfit(C)\n")
            ids.append(run.run_id)
    return ids


@pytest.fixture
def runs7(workspace):
    return make_runs()


@pytest.fixture
def registry(workspace):
    """Model 'iris': v1 (run accuracy 0.9) in production, v2 (accuracy 0.8) registered."""
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True, as_frame=True)
    for depth, accuracy in ((2, 0.9), (1, 0.8)):
        with nbmlops.start_run(name=f"tree-{depth}", experiment="models") as run:
            run.log_metric("accuracy", accuracy)
            model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)
            nbmlops.register_model(model, "iris", run=run)
    nbmlops.promote("iris", 1, reason="first model")
    return "iris"


@pytest.fixture
def saved_report(workspace):
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"income": rng.normal(50, 10, 500), "age": rng.normal(40, 5, 500)})
    cur = pd.DataFrame({"income": rng.normal(65, 10, 500), "age": rng.normal(40, 5, 500)})
    return nbmlops.drift_report(ref, cur).save(name="weekly-income")
