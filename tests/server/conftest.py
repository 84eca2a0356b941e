"""pytest-jupyter's server fixtures (``jp_fetch``, ``jp_serverapp``) for the tests of this
folder only, with the nbmlops server extension enabled, and a filled workspace."""

from __future__ import annotations

import pytest
from pytest_jupyter.jupyter_core import *  # noqa: F403 - fixtures and hooks, this folder only
from pytest_jupyter.jupyter_server import *  # noqa: F403

# v1 (accuracy 0.9) passed it into production; v2 (0.8) does not.
CHAMPION_GATE = "metrics.accuracy >= champion.metrics.accuracy"


def make_runs(n: int = 7) -> list[str]:
    """``n`` finished runs in two experiments with params, a loss history and cell code."""
    import nbmlops

    ids = []
    for i in range(n):
        experiment = "search" if i % 2 else "baseline"
        with nbmlops.start_run(name=f"run-{i}", experiment=experiment) as run:
            C = [0.1, 1.0, 10.0][i % 3]
            run.log_params({"C": C, "penalty": "l2" if i % 2 else "l1"})
            for step in range(3):
                run.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            run.log_metric("accuracy", 0.5 + i / 20)
            run._store.meta.update_run(
                run.run_id, code=f"C = {C}\naccuracy = round(0.5 + C / 100, 4)\n"
            )
            ids.append(run.run_id)
    return ids


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"nbmlops.server": True}}}


@pytest.fixture
def filled(workspace):
    """7 runs in two experiments, model 'iris' (v1 production through ``CHAMPION_GATE``, v2
    registered), one drift report."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    import nbmlops

    run_ids = make_runs()
    X, y = load_iris(return_X_y=True, as_frame=True)
    for depth, accuracy in ((2, 0.9), (1, 0.8)):
        with nbmlops.start_run(name=f"tree-{depth}", experiment="models") as run:
            run.log_metric("accuracy", accuracy)
            model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)
            nbmlops.register_model(model, "iris", run=run)
    nbmlops.promote("iris", 1, reason="first model", gates=[CHAMPION_GATE])
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"income": rng.normal(50, 10, 300)})
    cur = pd.DataFrame({"income": rng.normal(65, 10, 300)})
    report_id = nbmlops.drift_report(ref, cur).save(name="weekly-income")
    return {"run_ids": run_ids, "model": "iris", "report_id": report_id}
