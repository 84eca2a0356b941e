"""Fairness gates: computed from the per-group metrics ``evaluate`` stores, failing with the
worst-off group named; usable in ``promote`` and in policies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as m
from sklearn.tree import DecisionTreeClassifier

import nbmlops
from nbmlops.errors import GateFailed, InvalidModel

GAP = "fairness.max_gap(recall, by=sex) <= 0.05"
RATIO = "fairness.min_ratio(selection_rate, by=age_band) >= 0.8"


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def data():
    """One feature; the label of group M sits at a lower threshold, so a model that learned
    the threshold of group F misses more positives of M (lower recall)."""
    rng = np.random.default_rng(0)
    n = 800
    x = rng.uniform(-1, 1, n)
    sex = np.where(np.arange(n) % 2 == 0, "F", "M")
    age = np.where(np.arange(n) % 4 < 2, "young", "old")
    y = np.where(sex == "F", x > 0, x > -0.4).astype(int)
    X = pd.DataFrame({"x": x})
    model = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X[sex == "F"], y[sex == "F"])
    groups = pd.DataFrame({"sex": sex, "age_band": age})
    return X, y, groups, model


def test_fairness_gate_fails_naming_the_worst_group(workspace, data):
    X, y, groups, model = data
    mv = nbmlops.register_model(model, "credit")
    table = nbmlops.evaluate(mv, X, y, sensitive_features=groups)
    assert {"sex=F", "sex=M", "age_band=young", "age_band=old"} <= set(table["segment"])
    pred = model.predict(X)
    recall = {g: m.recall_score(y[groups.sex == g], pred[groups.sex == g]) for g in ("F", "M")}
    assert recall["M"] < recall["F"] - 0.05
    with pytest.raises(GateFailed) as info:
        nbmlops.promote("credit", mv.version, gates=[GAP, RATIO])
    gates = info.value.table.set_index("gate")
    assert gates.loc[GAP, "value"] == pytest.approx(recall["F"] - recall["M"])
    assert not gates.loc[GAP, "passed"]
    assert "sex=M" in gates.loc[GAP, "detail"] and "lowest" in gates.loc[GAP, "detail"]
    assert "sex=M" in str(info.value)
    selection = {a: pred[groups.age_band == a].mean() for a in ("young", "old")}
    ratio = min(selection.values()) / max(selection.values())
    assert gates.loc[RATIO, "value"] == pytest.approx(ratio)
    assert bool(gates.loc[RATIO, "passed"]) == (ratio >= 0.8)
    assert nbmlops.get_model("credit", mv.version).stage is None
    # A looser limit passes.
    loose = "fairness.max_gap(recall, by=sex) <= 0.9"
    assert nbmlops.promote("credit", mv.version, gates=[loose]).stage == "production"


def test_fairness_gate_in_a_policy_and_its_errors(workspace, data):
    X, y, groups, model = data
    mv = nbmlops.register_model(model, "credit")
    nbmlops.set_policy("credit", production={"approvals": 0, "gates": [GAP]})
    # Not evaluated by sex yet: the gate fails and says how to fix it.
    with pytest.raises(GateFailed, match="sensitive_features='sex'"):
        nbmlops.promote("credit", mv.version)
    nbmlops.evaluate(mv, X, y, segments=groups["sex"])  # plain segments work as well
    with pytest.raises(GateFailed, match="sex=M"):
        nbmlops.promote("credit", mv.version)
    with pytest.raises(InvalidModel, match="unknown function"):
        nbmlops.promote("credit", mv.version, gates=["fairness.gap(recall, by=sex) < 1"])
    with pytest.raises(InvalidModel, match=r"write fairness.max_gap\(METRIC, by=COLUMN\)"):
        nbmlops.set_policy("credit", production={"gates": ["fairness.max_gap(recall) < 1"]})


def test_fairness_columns_are_what_a_monitor_evaluates_by():
    from nbmlops.registry.fairness import fairness_columns

    gates = [GAP, RATIO, "metrics.f1 >= champion.metrics.f1", GAP.replace("sex", "`age band`")]
    assert fairness_columns(gates) == ["sex", "age_band", "age band"]
