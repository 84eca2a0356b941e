"""Registry writes and loads do only what the model needs (issue 18)."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest
import skops.io._persist
from sklearn.tree import DecisionTreeClassifier

import nbmlops
from nbmlops.errors import UntrustedModelError
from nbmlops.registry import persistence


@pytest.fixture
def model():
    X = np.arange(40.0).reshape(20, 2)
    return DecisionTreeClassifier(random_state=0).fit(X, np.arange(20) % 2)


def test_register_does_not_scan_every_installed_file(workspace, model, monkeypatch):
    calls = []
    real = importlib.metadata.packages_distributions

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(importlib.metadata, "packages_distributions", counting)
    persistence._distribution_of.cache_clear()
    for _ in range(2):
        mv = nbmlops.register_model(model, "tree")
    assert calls == []
    assert mv.packages["scikit-learn"] == importlib.metadata.version("scikit-learn")


@pytest.mark.skipif(
    not hasattr(skops.io._persist, "read_schema"),
    reason="this skops has no single-pass reader: loads fall back to its two public calls",
)
def test_a_load_reads_the_skops_file_once(workspace, model, monkeypatch):
    mv = nbmlops.register_model(model, "tree")
    reads = []
    real = skops.io._persist.read_schema

    def counting(zip_file):
        reads.append(1)
        return real(zip_file)

    monkeypatch.setattr(skops.io._persist, "read_schema", counting)
    loaded = nbmlops.load_model("models:/tree/1")
    assert reads == [1]
    assert loaded.predict([[3.0, 4.0]]) == model.predict([[3.0, 4.0]])
    # The single pass still refuses a type nobody trusts, before building anything.
    data = mv._store.artifacts.get_bytes(mv._row()["digest"], "model")

    def refuse(flagged):
        raise UntrustedModelError("m", "refused", flagged)

    with pytest.raises(UntrustedModelError):
        persistence._audited_load(data, "m", refuse)


def test_a_damaged_file_is_still_named_unreadable(workspace):
    with pytest.raises(nbmlops.errors.InvalidModel, match="not a readable skops"):
        persistence.deserialize("skops", b"PK\x03\x04 damaged", "models:/x/1")
