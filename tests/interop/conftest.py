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
