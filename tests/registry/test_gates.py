"""Promotion gates: thresholds and champion comparisons; a failure changes nothing."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import nbmlops
from nbmlops.errors import GateFailed, InvalidModel
from nbmlops.registry.gates import evaluate_gates


@pytest.fixture
def candidates(backend):
    """v1 a weak stump (run metric f1=0.70), v2 a scaled logistic regression (f1=0.95)."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    for model, f1 in (
        (DecisionTreeClassifier(max_depth=1, random_state=0), 0.70),
        (make_pipeline(StandardScaler(), LogisticRegression()), 0.95),
    ):
        with nbmlops.start_run() as run:
            model.fit(Xtr, ytr)
            nbmlops.log_metric("f1", f1)
        nbmlops.register_model(model, "cancer", run=run)
    return Xte, yte


def _snapshot():
    return (
        nbmlops.model_versions("cancer")[["version", "stage", "aliases"]]
        .fillna("")
        .values.tolist(),
        nbmlops.model_history("cancer").fillna("").values.tolist(),
    )


def test_threshold_gate_passes_and_promotes(candidates):
    mv = nbmlops.promote("cancer", 2, gates=["metrics.f1 >= 0.9"], reason="good enough")
    assert mv.stage == "production"


def test_passed_gates_are_kept_in_the_history_and_offered_again(candidates):
    from nbmlops.store import get_store

    gates = ["metrics.f1 >= 0.9", "metrics.f1 >= champion.metrics.f1"]
    nbmlops.promote("cancer", 2, gates=gates, reason="good enough")
    nbmlops.promote("cancer", 1, reason="no gates this time")
    history = nbmlops.model_history("cancer")
    assert history["gates"].tolist()[-3:] == [gates, None, None]
    assert get_store().models.last_gates("cancer") == gates
    assert get_store().models.rollback_target("cancer") == 2


def test_failing_gates_raise_with_the_table_and_change_nothing(candidates):
    nbmlops.promote("cancer", 2)
    before = _snapshot()
    gates = ["metrics.f1 >= 0.85", "metrics.f1 >= champion.metrics.f1", "metrics.f1 > 0.5"]
    with pytest.raises(GateFailed) as info:
        nbmlops.promote("cancer", 1, gates=gates, reason="should not happen")
    assert _snapshot() == before
    table = info.value.table
    assert table["gate"].tolist() == gates
    assert table["passed"].tolist() == [False, False, True]
    assert table["value"].tolist() == pytest.approx([0.70, 0.70, 0.70])
    assert table["threshold"].tolist() == pytest.approx([0.85, 0.95, 0.5])
    message = str(info.value)
    assert "2 of 3 gates failed" in message and "nothing was changed" in message
    for gate in gates:
        assert gate in message


def test_champion_gate_with_arithmetic_and_no_champion_yet(candidates):
    # No production version yet: a champion comparison has nothing to beat and passes.
    nbmlops.promote("cancer", 1, gates=["metrics.f1 >= champion.metrics.f1"])
    table, champion = nbmlops.registry.lifecycle.check_gates(
        "cancer", 2, ["metrics.f1 >= champion.metrics.f1 + 0.2", "metrics.f1 / 2 < 1"]
    )
    assert champion == 1
    assert table["passed"].tolist() == [True, True]
    assert table["threshold"][0] == pytest.approx(0.90)
    nbmlops.promote("cancer", 2, gates=["metrics.f1 >= champion.metrics.f1 + 0.2"])
    assert nbmlops.get_model("cancer").version == 2


def test_evaluation_metrics_override_the_run_metrics(candidates):
    Xte, yte = candidates
    scores = nbmlops.evaluate("models:/cancer/1", Xte, yte)
    stump_f1 = scores.loc[0, "f1"]
    assert nbmlops.get_model("cancer", 1).metrics["f1"] == pytest.approx(stump_f1)
    assert nbmlops.get_model("cancer", 1).metrics["roc_auc"] == pytest.approx(
        scores.loc[0, "roc_auc"]
    )
    with pytest.raises(GateFailed) as info:
        nbmlops.promote("cancer", 1, gates=["metrics.roc_auc >= 0.99"])
    assert info.value.table["value"][0] == pytest.approx(scores.loc[0, "roc_auc"])


def test_missing_metric_fails_the_gate_and_says_what_to_do(candidates):
    with pytest.raises(GateFailed, match="has no metric 'precision'") as failed:
        nbmlops.promote("cancer", 2, gates=["metrics.precision >= 0.5"])
    assert nbmlops.get_model("cancer", 2).stage is None
    # The side that can be read is still shown next to the missing one.
    row = failed.value.table.iloc[0]
    assert row["value"] is None and row["threshold"] == 0.5 and not row["passed"]
    assert "— vs 0.5 (" in str(failed.value)


def test_backticks_quote_metric_names_with_other_characters():
    table = evaluate_gates(["`metrics.f1-macro` >= 0.8"], {"f1-macro": 0.9, "f1": 0.1}, None)
    assert table["passed"].tolist() == [True]
    # Unquoted, it reads as "f1 minus macro": refused, with the fix in the message.
    with pytest.raises(InvalidModel, match="backticks"):
        evaluate_gates(["metrics.f1-macro >= 0.8"], {"f1-macro": 0.9, "f1": 0.1}, None)


@pytest.mark.parametrize(
    "gate",
    [
        "",
        "metrics.f1",
        "metrics.f1 >",
        "0.5 < metrics.f1 < 0.9",
        "params.C > 1",
        "metrics.f1 >= 'high'",
        "__import__('os').system('x') > 0",
        "metrics.f1 and 1",
        None,
        3,
    ],
)
def test_unreadable_gates_are_refused_before_anything_happens(gate):
    with pytest.raises(InvalidModel, match="gate"):
        evaluate_gates([gate], {"f1": 0.9}, None)


def test_nan_metric_fails():
    table = evaluate_gates(["metrics.f1 >= 0.1"], {"f1": math.nan}, None)
    assert not table["passed"][0]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("metrics.f1champion<>=!+-*/() 0123456789`'")), max_size=40
    ),
    value=st.floats(allow_nan=True, allow_infinity=True),
)
def test_random_gates_give_a_result_or_a_clear_error(text, value):
    try:
        table = evaluate_gates([text], {"f1": value}, {"f1": 0.5})
    except InvalidModel:
        return
    assert len(table) == 1 and table["passed"].dtype == bool
