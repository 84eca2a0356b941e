"""One real MLflow sqlite store per test process, made by MLflow's own client."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory):
    pytest.importorskip("mlflow")
    from ._mlflow_store import build_store

    return build_store(tmp_path_factory.mktemp("mlflow"))
