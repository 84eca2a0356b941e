"""One real MLflow sqlite store per test session, made by MLflow's own client.

Building it (MLflow's schema migrations, two logged sklearn models) is the slow part of these
tests, and every test only reads it: with pytest-xdist the workers share one build, made by
whichever asks first while the others wait on a file lock.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory):
    pytest.importorskip("mlflow")
    from ._mlflow_store import build_store

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # this session's folder, shared by its workers
    built = root / "mlflow-store.json"
    with open(root / "mlflow-store.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            store = build_store(root / "mlflow-store")
            built.write_text(json.dumps({**store, "folder": str(store["folder"])}))
    store = json.loads(built.read_text())
    return {**store, "folder": Path(store["folder"])}


@pytest.fixture(scope="session")
def mlflow_cases(tmp_path_factory):
    """The runs of MLflow's own search tests in a real MLflow store, and an nbmlops workspace
    that imported them (ids and times kept): built once per session, shared by the workers."""
    pytest.importorskip("mlflow")
    from ._mlflow_cases import build_case_store

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    built = root / "mlflow-cases.json"
    with open(root / "mlflow-cases.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            import nbmlops

            store = build_case_store(root / "mlflow-cases")
            home = root / "mlflow-cases" / "workspace"
            nbmlops.configure(home=str(home), reset=True)
            try:
                nbmlops.import_mlflow(store["uri"], list(store["ids"]), progress_bar=False)
            finally:
                nbmlops.configure(reset=True)
            built.write_text(json.dumps({**store, "home": str(home)}))
    return json.loads(built.read_text())
