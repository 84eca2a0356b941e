"""Retraining on alert with champion/challenger: the pipeline's new version is compared with
the champion on the alert window's held-out rows and promoted only when the gates pass."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import nbmlops
from nbmlops.monitoring.retrain import pending_challengers

from ..pipelines._build import notebook, write
from ._loop import DAY0, register, traffic

pytestmark = pytest.mark.slow

TRAIN = """
import nbmlops
from sklearn.compose import make_column_transformer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

rows = nbmlops.prediction_log(model_name, window_start, window_end, labelled=True,
                              split="train", holdout=holdout)
X, y = rows[["income", "age", "site"]], rows["label"].astype(int)
if quality == "good":
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["site"]),
                                     remainder="passthrough")
    model = make_pipeline(encode, LogisticRegression(max_iter=1000)).fit(X, y)
else:  # a constant model: worse than any champion
    model = DummyClassifier(strategy="constant", constant=1).fit(X, y)
nbmlops.register_model(model, model_name, input_example=X, reference=X)
"""


def _pipeline(folder: Path) -> Path:
    notebook(
        folder / "train.ipynb",
        'model_name = "churn"\nwindow_start = ""\nwindow_end = ""\nholdout = 0.3\nquality = "good"',
        TRAIN,
    )
    return write(
        folder / "pipeline.yaml",
        "name: retrain\nsteps:\n  train:\n    notebook: train.ipynb\n",
    )


def _alert_week(tmp_path: Path, **options):
    register()
    traffic("churn", range(14), shift_from=7, label_delay=0)
    watch = nbmlops.monitor(
        "churn",
        window="7d",
        checks=["psi > 0.25 on income"],
        segments=["site"],
        retrain=str(_pipeline(tmp_path / "retrain")),
        **options,
    )
    assert watch.run(at=DAY0 + pd.Timedelta(days=7)).status == "ok"
    return watch.run(at=DAY0 + pd.Timedelta(days=14))


def test_worse_challenger_is_not_promoted_and_the_champion_keeps_serving(
    backend: str, workspace: Path, tmp_path: Path
):
    result = _alert_week(tmp_path, parameters={"quality": "bad"}, auto_promote=True)
    assert result.alerted
    outcome = result.retrain
    assert outcome["status"] == "staged", outcome
    assert (outcome["champion_version"], outcome["challenger_version"]) == (1, 2)
    assert not outcome["passed"]
    [gate] = outcome["gate_table"]
    assert gate["gate"] == "metrics.f1 >= champion.metrics.f1" and not gate["passed"]
    assert nbmlops.get_model("models:/churn@production").version == 1
    assert nbmlops.get_model("models:/churn/2").stage == "staging"
    # both were evaluated on the same held-out rows of the alert window
    champion, challenger = (outcome["evaluation"][r][0] for r in ("champion", "challenger"))
    assert champion["n"] == challenger["n"] == outcome["holdout_rows"] > 0
    alert = nbmlops.get_alert(result.alert_id)
    assert alert["retrain_status"] == "staged" and alert["retrain"]["gate_table"]
    assert pending_challengers("churn")[2]["status"] == "staged"
    # the next window is still served by the champion
    traffic("churn", range(14, 15))
    assert set(
        nbmlops.prediction_log("churn", start=DAY0 + pd.Timedelta(days=14))["model_version"]
    ) == {1}


def test_better_challenger_waits_for_a_person_by_default(workspace: Path, tmp_path: Path):
    result = _alert_week(tmp_path)
    outcome = result.retrain
    assert outcome["status"] == "awaiting" and outcome["passed"], outcome
    assert nbmlops.get_model("models:/churn@production").version == 1
    waiting = pending_challengers("churn")
    assert list(waiting) == [2] and waiting[2]["champion_version"] == 1
    from nbmlops.widgets.models_panel import versions_html

    assert "awaiting decision" in versions_html("churn")
    # The decision waits as a promotion request; approving it promotes the challenger.
    (pending,) = nbmlops.promotion_requests("churn")["id"]
    assert outcome["request_id"] == pending and f"request {pending}" in outcome["message"]
    nbmlops.approve(int(pending), reason="reviewed the gate table")  # the person decides
    assert pending_challengers("churn") == {}
    assert nbmlops.get_model("models:/churn@production").version == 2


def test_fairness_gate_of_the_loop_judges_the_recall_gap_between_segments(
    workspace: Path, tmp_path: Path
):
    """A monitor whose retraining gate is a fairness gate over a logged input column: the
    challenger is evaluated per segment of ``site`` on the window's labelled held-out rows; a
    recall gap over the limit fails naming the segments at both ends (the challenger stays in
    staging), and the same comparison with a limit the gap is within passes."""
    import dataclasses

    from nbmlops.monitoring.retrain import champion_vs_challenger

    strict = "fairness.max_gap(recall, by=site) <= 0.0"
    result = _alert_week(tmp_path, gates=[strict], auto_promote=True)
    outcome = result.retrain
    [row] = outcome["gate_table"]
    recall = {
        r["segment"]: r["recall"]
        for r in outcome["evaluation"]["challenger"]
        if str(r.get("segment", "")).startswith("site=") and r.get("recall") is not None
    }
    assert len(recall) >= 2, outcome["evaluation"]["challenger"]
    low, high = min(recall.values()), max(recall.values())
    gap = high - low
    assert gap > 0  # the segments' recall differs: over a limit of 0
    assert row["gate"] == strict and not row["passed"] and row["value"] == pytest.approx(gap)
    # The worst-off and best-off segments are named (either of a tie).
    assert any(s in row["detail"] for s, r in recall.items() if r == low)
    assert any(s in row["detail"] for s, r in recall.items() if r == high)
    assert outcome["status"] == "staged", outcome
    assert nbmlops.get_model("models:/churn@production").version == 1
    # Within the limit: the loop's comparison of the same versions on the same rows passes.
    lenient = f"fairness.max_gap(recall, by=site) <= {gap + 0.01:.4f}"
    watch = dataclasses.replace(nbmlops.get_monitor(result.monitor), gates=[lenient])
    again = champion_vs_challenger(
        watch,
        outcome["champion_version"],
        outcome["challenger_version"],
        result.window_start,
        result.window_end,
    )
    [row] = again["gate_table"]
    assert again["passed"] and row["passed"] and row["value"] == pytest.approx(gap)
