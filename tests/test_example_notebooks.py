"""Every example notebook runs top to bottom under papermill, in a throwaway workspace, and
leaves behind what its text promises."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import nbmlops

# Papermill outputs saved next to the notebooks (``*.out.ipynb``, git-ignored) are not examples.
NOTEBOOKS = sorted(
    path
    for path in (Path(__file__).parent.parent / "example_notebooks").glob("[0-9]*.ipynb")
    if not path.name.endswith(".out.ipynb")
)


def check_track_experiments() -> None:
    frame = nbmlops.runs()
    assert len(frame) >= 3, "the example tracks several cells"
    assert set(frame["status"]) == {"FINISHED"}
    assert frame["metrics.accuracy"].notna().any()


def check_model_registry() -> None:
    # Two versions of one model; the rollback put the tree (version 1) back in production.
    listed = nbmlops.models().set_index("name")
    assert list(listed.index) == ["cancer"]
    assert listed.loc["cancer", "versions"] == 2
    assert listed.loc["cancer", "latest_version"] == 2
    # The approved request put the logistic regression back in production at the end.
    assert listed.loc["cancer", "production_version"] == 2

    tree = nbmlops.get_model("models:/cancer/1")
    logreg = nbmlops.get_model("models:/cancer@production")
    assert tree.version == 1 and tree.stage == "archived"
    assert tree.model_class == "sklearn.tree.DecisionTreeClassifier"
    assert logreg.version == 2
    assert logreg.model_class == "sklearn.pipeline.Pipeline"

    # Every change, in order; the gated promotion that failed left no row.
    history = nbmlops.model_history("cancer")
    changes = history.assign(to_stage=history["to_stage"].fillna(""))
    assert list(changes[["version", "action", "to_stage"]].itertuples(index=False, name=None)) == [
        (1, "register", ""),
        (2, "register", ""),
        (1, "promote", "production"),
        (1, "promote", "archived"),
        (2, "promote", "production"),
        (2, "rollback", "archived"),
        (1, "rollback", "production"),
        (1, "promote", "archived"),  # by the approval of the request
        (2, "promote", "production"),
    ]
    assert history["reason"].iloc[2:].notna().all(), "every promotion and rollback says why"
    assert history["user"].iloc[-1] == "reviewer"

    # Governance: the fairness gate named the worst group, the request was approved by a
    # second person, the audit log is intact and the lineage shows the approval.
    (request,) = nbmlops.promotion_requests("cancer", status="approved").itertuples()
    assert request.requested_by == "data-scientist" and request.approvals == ["reviewer"]
    assert nbmlops.verify_audit().ok
    kinds = nbmlops.audit_log("cancer")["kind"].tolist()
    assert kinds.count("model.register") == 2 and "request.approved" in kinds
    edges = nbmlops.lineage("models:/cancer@production").edges
    assert {"run", "data", "request", "stage"} <= set(edges["source_kind"]) | set(
        edges["target_kind"]
    )

    runs = nbmlops.runs(experiment="registry-tour").set_index("run_id")
    for mv in (tree, logreg):
        # Lineage: each version points at the FINISHED %%track run that fitted it ...
        assert mv.run_id in runs.index
        assert nbmlops.get_run(mv.run_id).status == "FINISHED"
        assert f"models/cancer/v{mv.version}/model.skops" in mv.run.artifacts
        # ... whose training data gave the signature: the 30 float columns of the dataset.
        assert mv.signature.source.endswith(": Xtr")
        assert len(mv.signature.columns) == 30
        assert mv.signature.output == {"kind": "classes", "classes": [0, 1]}
        # evaluate() stored overall and per-segment metrics, which gates and cards read.
        evaluation = mv.evaluation.set_index("segment")
        assert set(evaluation.index) == {
            "",
            "radius_band=small",
            "radius_band=medium",
            "radius_band=large",
        }
        assert evaluation.loc["", "n"] == sum(
            evaluation.loc[f"radius_band={band}", "n"] for band in ("small", "medium", "large")
        )
        for metric in ("accuracy", "precision", "recall", "f1", "roc_auc"):
            assert 0.0 <= mv.metrics[metric] <= 1.0
        assert mv.metrics["f1"] == pytest.approx(evaluation.loc["", "f1"])
        assert mv.metrics["f1"] >= 0.9
    assert logreg.metrics["f1"] >= tree.metrics["f1"], "the gates the notebook passed"

    # The production model loads safely and predicts; the card fields were written.
    model = nbmlops.load_model("models:/cancer@production")
    assert type(model).__name__ == "Pipeline"
    assert set(tree.card_fields) == {"intended_use", "limitations"}
    card = nbmlops.model_card("models:/cancer/1").to_markdown()
    assert tree.card_fields["intended_use"] in card


def check_drift_report() -> None:
    # The shift injected into the BMI of patients aged 60+ is found, and only it.
    saved = nbmlops.drift_reports()
    assert list(saved["name"]) == ["diabetes-weekly"]
    report = nbmlops.load_drift_report(saved["report_id"][0])
    assert report.drifted_columns == ["bmi"]
    assert not report.dataset_drift
    top = report.segments("bmi").iloc[0]
    assert (top["segment"], str(top["value"])) == ("age_band", "60+")
    assert "driven by age_band=60+" in report.explain("bmi")
    # The predictions moved with their input and the model got worse on the current half.
    assert report.prediction_drift["drifted"] and not report.target_drift["drifted"]
    performance = report.performance_table.set_index("metric")
    assert performance.loc["mae", "current"] > performance.loc["mae", "reference"]

    runs = nbmlops.runs(experiment="drift-tour").set_index("name")
    assert set(runs["status"]) == {"FINISHED"}
    check = nbmlops.get_run(runs.loc["weekly-drift-check", "run_id"])
    assert check.metrics["drift_share"] == report.drift_share
    assert {"drift/diabetes-weekly.json", "drift/diabetes-weekly.html"} <= set(check.artifacts)


def check_feature_store() -> None:
    from nbmlops import features

    catalog = features.catalog().set_index("view")
    assert list(catalog.index) == ["card_activity", "card_profile"]
    assert (catalog["version"] == 1).all(), "one definition each, applied once"
    # The rows that broke the profile schema were refused: only the two good writes exist.
    records = features.default_store().records
    assert [w["rows"] for w in records.writes("card_profile")] == [2000, 20]
    assert sum(w["rows"] for w in records.writes("card_activity")) == 60000
    # The training set kept every event and is the run's input, with the view versions.
    runs = nbmlops.runs(experiment="feature-tour").set_index("name")
    run = nbmlops.get_run(runs.loc["build-training-set", "run_id"])
    assert run.metrics["training_rows"] == 5000
    assert run.inputs["training_set"]["shape"] == (5000, 4)
    assert run.inputs["feature_view:card_activity"]["info"]["version"] == 1
    assert (
        run.inputs["feature_view:card_profile"]["digest"]
        == features.get_view("card_profile").digest
    )
    # After the incremental materialization, online values are the latest offline ones.
    latest = features.offline_rows("card_profile", latest=True)
    online = features.get_online_features(["card_profile:*"], latest[["card_id"]])
    assert online["segment"].tolist() == latest["segment"].tolist()
    assert (online.set_index("card_id").loc[range(20), "segment"] == "platinum").all()
    assert features.check_skew("card_profile", latest[["card_id"]]).ok


def check_serving_rollout() -> None:
    # Shadow and canary of v2 completed (the canary promoted it); v3's canary was aborted by
    # its psi.max guard, with an alert.
    rollouts = nbmlops.rollouts("cancer")
    assert list(rollouts["mode"]) == ["shadow", "canary", "canary"]
    assert list(rollouts["status"]) == ["completed", "completed", "aborted"]
    assert "psi.max < 0.5" in rollouts["reason"].iloc[2]
    assert nbmlops.get_model("cancer@production").version == 2
    [alert] = nbmlops.alerts(model="cancer").to_dict("records")
    assert alert["monitor"] == "rollout:cancer" and alert["model_version"] == 3
    log = nbmlops.prediction_log("cancer")
    arms = set(zip(log["model_version"], log["rollout_arm"].fillna(""), strict=True))
    assert {(1, "champion"), (2, "shadow"), (2, "candidate"), (3, "candidate")} <= arms


CHECKS: dict[str, Callable[[], None]] = {
    "01_track_experiments": check_track_experiments,
    "02_model_registry": check_model_registry,
    "04_drift_report": check_drift_report,
    "05_feature_store": check_feature_store,
    "07_serving_rollout": check_serving_rollout,
}


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_example_notebook_runs_under_papermill(notebook: Path, workspace: Path, tmp_path: Path):
    import papermill

    check = CHECKS.get(notebook.stem)
    if check is None:
        pytest.fail(f"add the assertions for {notebook.name} to CHECKS in {Path(__file__).name}")
    output = tmp_path / notebook.name
    # The kernel inherits NBMLOPS_HOME from the workspace fixture: the repository is untouched.
    papermill.execute_notebook(
        str(notebook),
        str(output),
        kernel_name="python3",
        cwd=str(notebook.parent),
        progress_bar=False,
    )
    check()


@pytest.mark.slow
def test_monitoring_loop_example(workspace: Path, tmp_path: Path):
    """06_monitoring_loop/: four weeks of traffic, a shift in week 3; the monitor alerts in week
    3 only, retraining runs and the challenger is promoted."""
    import shutil

    import papermill

    example = Path(__file__).parent.parent / "example_notebooks" / "06_monitoring_loop"
    folder = tmp_path / "06_monitoring_loop"
    shutil.copytree(example, folder, ignore=shutil.ignore_patterns("*.out.ipynb"))
    papermill.execute_notebook(
        str(folder / "monitoring_loop.ipynb"),
        str(tmp_path / "monitoring_loop.out.ipynb"),
        kernel_name="python3",
        cwd=str(folder),
        progress_bar=False,
    )
    history = nbmlops.get_monitor("cancer").history()
    assert list(history["status"]) == ["ok", "ok", "alert", "ok"]
    assert list(history["model_version"]) == [1, 1, 1, 2]
    assert history["retrain_status"].tolist()[2] == "promoted"
    [alert] = nbmlops.alerts("cancer").to_dict("records")
    assert alert["challenger_version"] == 2
    details = nbmlops.get_alert(alert["alert_id"])
    drifted = {d["column"]: d for d in details["context"]["drifted"]}
    assert "mean_radius" in drifted
    top = drifted["mean_radius"]["top_segments"][0]
    assert (top["segment"], top["value"]) == ("site", "east")
    outcome = details["retrain"]
    assert outcome["passed"] and outcome["status"] == "promoted"
    champion, challenger = (outcome["evaluation"][r][0] for r in ("champion", "challenger"))
    assert challenger["f1"] > champion["f1"] and champion["n"] == challenger["n"]
    assert nbmlops.get_model("models:/cancer@production").version == 2
    changes = nbmlops.model_history("cancer").fillna("")
    assert list(changes[["version", "action", "to_stage"]].itertuples(index=False, name=None)) == [
        (1, "register", ""),
        (1, "promote", "production"),
        (2, "register", ""),
        (1, "promote", "archived"),
        (2, "promote", "production"),
    ]
    assert "monitor cancer, alert" in changes["reason"].iloc[-1]
    # the pipeline run of the retraining is a tracked run of the example's experiment
    runs = nbmlops.runs(experiment="monitoring-loop")
    assert outcome["pipeline_run_id"] in set(runs["run_id"])
