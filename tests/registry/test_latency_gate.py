"""Latency as a promotion gate: ``latency.p50_ms`` / ``latency.p99_ms`` measured on the
version's reference rows (and the champion's, as ``champion.latency.*``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import nbmlops


@pytest.fixture
def two_versions(workspace):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    y = (X["a"] > 0).astype(int)
    v1 = nbmlops.register_model(LogisticRegression().fit(X, y), "fast", reference=X)
    v2 = nbmlops.register_model(LogisticRegression(C=0.5).fit(X, y), "fast", reference=X)
    return v1, v2


def test_measure_latency_on_reference_rows(two_versions):
    v1, _ = two_versions
    measured = nbmlops.measure_latency(v1.uri, rows=30, batch=10, repeats=5)
    assert set(measured) == {"p50_ms", "p99_ms", "batch_p50_ms", "batch_p99_ms", "batch"}
    assert 0 < measured["p50_ms"] <= measured["p99_ms"]
    assert measured["batch"] == 10


def test_latency_gates_pass_and_fail(two_versions):
    v1, v2 = two_versions
    nbmlops.promote("fast", v1.version, gates=["latency.p99_ms < 60000"])
    with pytest.raises(nbmlops.GateFailed, match=r"latency.p50_ms < 1e-06") as info:
        nbmlops.promote("fast", v2.version, gates=["latency.p50_ms < 1e-06"])
    row = info.value.table.iloc[0]
    assert not row["passed"] and row["value"] > 0
    assert nbmlops.get_model("fast@production").version == v1.version
    promoted = nbmlops.promote(
        "fast", v2.version, gates=["latency.p99_ms <= champion.latency.p99_ms * 1000 + 50"]
    )
    assert promoted.stage == "production"
    assert nbmlops.model_history("fast").iloc[-1]["gates"] == [
        "latency.p99_ms <= champion.latency.p99_ms * 1000 + 50"
    ]


def test_latency_gate_needs_reference_rows(workspace):
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    mv = nbmlops.register_model(LogisticRegression().fit(X, [0, 1, 0, 1]), "noref")
    with pytest.raises(nbmlops.InvalidModel, match="no reference rows"):
        nbmlops.promote("noref", mv.version, gates=["latency.p99_ms < 50"])
    with pytest.raises(nbmlops.InvalidModel, match="unknown name 'latency'"):
        nbmlops.promote("noref", mv.version, gates=["latency < 50"])
