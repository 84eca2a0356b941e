"""Migration both ways against a real MLflow sqlite store made by MLflow's own client:
values equal field by field, reruns are no-ops, a kill -9 mid-import then a rerun completes
with nothing duplicated, and nbmlops → MLflow → nbmlops keeps every shared field."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

import nbmlops
from nbmlops.errors import UntrustedModelError
from nbmlops.store import _schema as t
from nbmlops.store import get_store

pytest.importorskip("mlflow")
ROOT = Path(__file__).resolve().parents[2]
MIGRATED = ["exp-a", "exp-b"]


def _client(uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _mlflow_runs(uri, experiments=MIGRATED):
    client = _client(uri)
    ids = [client.get_experiment_by_name(n).experiment_id for n in experiments]
    return client, client.search_runs(ids)


def _counts() -> dict[str, int]:
    engine = get_store().meta.engine
    with engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.runs, t.params, t.tags, t.metrics, t.artifacts, t.model_versions)
        }


def test_import_equals_mlflow_field_by_field(mlflow_store, workspace):
    uri = mlflow_store["uri"]
    report = nbmlops.import_mlflow(uri, MIGRATED, progress_bar=False)
    client, runs = _mlflow_runs(uri)
    assert report.written["runs"] == len(runs) == 4
    for mr in runs:
        ours = nbmlops.get_run(mr.info.run_id)  # the MLflow run id is kept
        assert ours.name == mr.info.run_name
        assert ours.status == mr.info.status
        assert round(ours.start_time * 1000) == mr.info.start_time
        assert round(ours.end_time * 1000) == mr.info.end_time
        assert ours.experiment == client.get_experiment(mr.info.experiment_id).name
        # params: MLflow's text is str() of what nbmlops holds (numbers come back typed)
        assert {k: str(val) for k, val in ours.params.items()} == mr.data.params
        expected_tags = {
            k: val
            for k, val in mr.data.tags.items()
            if k not in ("mlflow.runName", "mlflow.parentRunId", "mlflow.user")
        }
        assert ours.tags == expected_tags
        for key in mr.data.metrics:
            theirs = [
                (m.step, m.value, m.timestamp)
                for m in client.get_metric_history(mr.info.run_id, key)
            ]
            history = ours.metric_history(key)
            mine = [
                (int(s), float(val), _ms(ts))
                for s, val, ts in zip(
                    history["step"], history["value"], history["timestamp"], strict=True
                )
            ]
            assert len(mine) == len(theirs)
            for (s1, v1, t1), (s2, v2, t2) in zip(sorted(mine), sorted(theirs), strict=True):
                assert (s1, t1) == (s2, t2) and (v1 == v2 or (math.isnan(v1) and math.isnan(v2)))
    a = nbmlops.get_run(mlflow_store["ids"]["svm-a"])
    assert a.params["C"] == 0.5 and a.params["layers"] == [64, 32] and a.params["flag"] is True
    assert a.params["lr"] == "1e-3"  # kept as text: str(0.001) would not give it back
    assert a.read_text("notes/readme.txt") == "hello"
    assert json.loads(a.read_text("config.json")) == {"a": 1}
    child = nbmlops.get_run(mlflow_store["ids"]["SVM-c"])
    assert child.parent_run_id == a.run_id
    assert nbmlops.runs(filter="params.C = '0.5'")["name"].tolist() == ["svm-a"]

    # registered models: versions, stages, aliases, description, tags, safe loading
    versions = nbmlops.model_versions("churn").set_index("version")
    assert list(versions.index) == [1, 2]
    assert versions.loc[1, "stage"] == "production" and versions.loc[2, "stage"] == "staging"
    assert versions.loc[1, "aliases"] == "champion"
    assert versions.loc[1, "flavor"] == "skops" and versions.loc[2, "flavor"] == "cloudpickle"
    assert versions.loc[1, "run_id"] == a.run_id
    assert versions.loc[1, "model_class"].endswith("LogisticRegression")
    assert versions.loc[2, "model_class"].endswith("LogisticRegression")
    v1 = nbmlops.get_model("churn", version=1)
    assert v1.tags["validated"] == "yes"
    X = np.array([[0.0, 1.0], [3.0, 0.0]])
    from sklearn.linear_model import LogisticRegression

    model = nbmlops.load_model("models:/churn/1")  # skops: loads without trusted=
    same = LogisticRegression(C=0.5).fit(
        [[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]], [0, 1, 0, 1]
    )
    assert model.C == 0.5 and list(model.predict(X)) == list(same.predict(X))
    with pytest.raises(UntrustedModelError):
        nbmlops.load_model("models:/churn/2")  # a pickle is never loaded unless trusted
    assert nbmlops.load_model("models:/churn/2", trusted=True).C == 1.0

    # a rerun writes nothing
    before = _counts()
    again = nbmlops.import_mlflow(uri, MIGRATED, progress_bar=False)
    assert sum(again.written.values()) == 0 and again.present["runs"] == 4
    assert again.present["model versions"] == 2
    assert _counts() == before


def test_kill_mid_import_then_rerun_completes_without_duplicates(mlflow_store, workspace):
    uri = mlflow_store["uri"]
    script = textwrap.dedent(
        f"""
        import os, signal
        import nbmlops
        from nbmlops.store.metadata import MetadataStore

        original = MetadataStore._write_metrics
        calls = [0]

        def write_then_die(conn, rows):
            calls[0] += 1
            if calls[0] == 3:  # inside the third run's transaction, before it commits
                os.kill(os.getpid(), signal.SIGKILL)
            return original(conn, rows)

        MetadataStore._write_metrics = staticmethod(write_then_die)
        nbmlops.import_mlflow({uri!r}, {MIGRATED!r}, progress_bar=False)
        """
    )
    env = {**os.environ, "NBMLOPS_HOME": str(workspace), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", script], env=env, timeout=300)
    assert done.returncode == -9
    nbmlops.configure(reset=True)
    assert _counts()["runs"] == 2  # two whole runs; the third was never half-written
    report = nbmlops.import_mlflow(uri, MIGRATED, progress_bar=False)
    assert report.present["runs"] == 2 and report.written["runs"] == 2
    client, runs = _mlflow_runs(uri)
    expected_metrics = sum(
        len(client.get_metric_history(r.info.run_id, k)) for r in runs for k in r.data.metrics
    )
    counts = _counts()
    assert counts["runs"] == 4 and counts["metrics"] == expected_metrics
    assert counts["params"] == sum(len(r.data.params) for r in runs)
    assert counts["model_versions"] == 2


def test_round_trip_nbmlops_mlflow_nbmlops(workspace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside any git repository: no git.diff artifacts
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    y = np.array([0, 1, 0, 1])
    with nbmlops.start_run(experiment="trip", name="parent", tags={"team": "risk"}) as parent:
        nbmlops.log_params(
            {
                "C": 0.5,
                "max_iter": 200,
                "fit": True,
                "solver": None,
                "layers": [64, 32],
                "name": "lbfgs",
                "lr": "1e-3",
            }
        )
        for step, loss in enumerate([0.9, 0.5, 0.25]):
            nbmlops.log_metric("loss", loss, step=step)
        nbmlops.log_metric("nan", math.nan)
        parent.log_text("hello", "notes/readme.txt")
        with nbmlops.start_run(experiment="trip", name="child"):
            nbmlops.log_metric("acc", 0.8)
        model = LogisticRegression(C=0.5).fit(X, y)
        nbmlops.register_model(model, "churn", description="the churn model", tags={"k": "v"})
    try:
        with nbmlops.start_run(experiment="trip", name="broken"):
            nbmlops.log_param("x", 1)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    nbmlops.register_model(LogisticRegression(C=2.0).fit(X, y), "churn")
    nbmlops.promote("churn", 1, "production", reason="best")
    nbmlops.promote("churn", 2, "staging", reason="next")
    nbmlops.set_alias("churn", "champion", 1)

    def snapshot():
        out = {}
        for run_id in nbmlops.runs("trip")["run_id"]:
            run = nbmlops.get_run(run_id)
            history = run.metric_history()
            out[run_id] = {
                "name": run.name,
                "status": run.status,
                "start": round(run.start_time * 1000),
                "end": round(run.end_time * 1000),
                "parent": run.parent_run_id,
                "params": run.params,
                "tags": run.tags,
                "metrics": sorted(
                    (k, int(s), None if math.isnan(val) else float(val), _ms(ts))
                    for k, s, val, ts in zip(
                        history["key"],
                        history["step"],
                        history["value"],
                        history["timestamp"],
                        strict=True,
                    )
                ),
                "artifacts": {n: run.read_artifact(n) for n in run.artifacts},
            }
        frame = nbmlops.model_versions("churn")
        models = frame[
            ["version", "stage", "aliases", "run_id", "flavor", "model_class", "description"]
        ].astype(object)
        models = models.where(models.notna(), None)
        versions = [nbmlops.get_model("churn", version=int(v)) for v in frame["version"]]
        digests = {
            mv.version: (mv.info["digest"], mv.tags, mv.run_id, mv.packages, mv.info["signature"])
            for mv in versions
        }
        return out, models.to_dict("records"), digests

    before = snapshot()
    uri = f"sqlite:///{tmp_path / 'exported.db'}"
    first = nbmlops.export_mlflow(uri, "trip", progress_bar=False)
    assert first.written["runs"] == 3 and first.written["model versions"] == 2, first
    again = nbmlops.export_mlflow(uri, "trip", progress_bar=False)
    assert sum(again.written.values()) == 0 and again.present["runs"] == 3

    # MLflow reads what was exported with its own client and its own sklearn loader
    client, runs = _mlflow_runs(uri, ["trip"])
    assert len(runs) == 3
    by_name = {r.info.run_name: r for r in runs}
    assert by_name["parent"].data.params["C"] == "0.5"
    assert by_name["parent"].data.params["solver"] == "None"
    assert by_name["broken"].info.status == "FAILED"
    mv = client.get_model_version_by_alias("churn", "champion")
    assert mv.current_stage == "Production"
    from mlflow import sklearn as mlflow_sklearn

    loaded = mlflow_sklearn.load_model(client.get_model_version_download_uri("churn", mv.version))
    assert loaded.C == 0.5  # a skops file, read by MLflow's own sklearn flavour

    home = tmp_path / "second"
    monkeypatch.setenv("NBMLOPS_HOME", str(home))
    nbmlops.configure(reset=True)
    back = nbmlops.import_mlflow(uri, "trip", progress_bar=False)
    assert back.written["runs"] == 3 and back.written["model versions"] == 2, back
    after = snapshot()
    assert after[0].keys() == before[0].keys()  # the same run ids
    for run_id, fields in before[0].items():
        for field, value in fields.items():
            assert after[0][run_id][field] == value, (run_id, field)
    assert after[1] == before[1], (
        after[1],
        before[1],
    )  # versions, stages, aliases, runs, flavours, descriptions
    assert after[2] == before[2]  # model files (sha256), version tags, runs


def _ms(stamp) -> int:
    """Milliseconds since the epoch of a float of seconds or a pandas Timestamp."""
    seconds = stamp.timestamp() if hasattr(stamp, "timestamp") else stamp
    return round(seconds * 1000)


def test_cli_import_prints_the_summary(mlflow_store, workspace):
    from click.testing import CliRunner

    from nbmlops.cli import main

    result = CliRunner().invoke(
        main,
        ["import", "mlflow", "--tracking-uri", mlflow_store["uri"], "-e", "exp-b", "--no-models"],
    )
    assert result.exit_code == 0, result.output
    assert "runs: 1 written" in result.output
    result = CliRunner().invoke(
        main, ["import", "mlflow", "--tracking-uri", mlflow_store["uri"], "-e", "nope"]
    )
    assert (
        result.exit_code == 0
        and "experiment nope: MLflow has no active experiment" in result.output
    )
