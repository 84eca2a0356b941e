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
import pandas as pd
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


def _mlflow_names(client, text):
    ids = [client.get_experiment_by_name(n).experiment_id for n in MIGRATED]
    return [r.info.run_name for r in client.search_runs(ids, filter_string=text)]


def _counts() -> dict[str, int]:
    engine = get_store().meta.engine
    with engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (
                t.runs,
                t.params,
                t.tags,
                t.metrics,
                t.artifacts,
                t.model_versions,
                t.data_io,
            )
        }


def test_import_equals_mlflow_field_by_field(mlflow_store, backend):
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
    # logged datasets: input rows with MLflow's name, digest, context and other fields
    assert set(a.inputs) == {"train-set", "holdout"}
    train = a.inputs["train-set"]
    assert train["digest"] == "d1gest" and train["kind"] == "mlflow dataset"
    assert train["info"] == {
        "context": "train",
        "source_type": "local",
        "source": "/data/train.csv",
        "schema": '{"cols": 2}',
        "input_tags": {"owner": "ana"},
    }
    assert a.inputs["holdout"]["info"] == {"source_type": "local", "source": "/data/holdout.csv"}
    for text in ("datasets.context = 'train'", "datasets.digest = 'd2gest'"):
        assert nbmlops.runs(filter=text)["name"].tolist() == ["svm-a"], text
        assert _mlflow_names(client, text) == ["svm-a"], text

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


def test_kill_mid_import_then_rerun_completes_without_duplicates(mlflow_store, backend):
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
    # The workspace (and, on PostgreSQL, NBMLOPS_STORE_URL) comes from the environment.
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
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
    assert counts["data_io"] == 2  # svm-a's two logged datasets, once


_KILL_EXPORT = """
import os, signal, sys
import nbmlops
from mlflow import MlflowClient

method, nth = sys.argv[1], int(sys.argv[2])
original = getattr(MlflowClient, method)
calls = [0]

def die_on_nth(self, *args, **kwargs):
    calls[0] += 1
    if calls[0] == nth:  # mid-export: what came before is in MLflow, the rest is not
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, *args, **kwargs)

setattr(MlflowClient, method, die_on_nth)
nbmlops.export_mlflow(sys.argv[3], "kill-exp", progress_bar=False)
"""


def test_kill_mid_export_then_rerun_completes_without_duplicates(workspace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside any git repository
    from mlflow.entities import ViewType
    from sklearn.linear_model import LogisticRegression

    ours = {}
    for i in range(4):
        with nbmlops.start_run(experiment="kill-exp", name=f"r{i}") as run:
            nbmlops.log_params({"i": i, "kernel": "rbf"})
            for step in range(3):
                nbmlops.log_metric("loss", 1.0 / (i + step + 1), step=step)
            run.log_text(f"run {i}", "notes.txt")
            if i == 1:
                model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 1, 0, 1])
                nbmlops.register_model(model, "kill-model")
        ours[run.run_id] = f"r{i}"
    nbmlops.promote("kill-model", 1, "production", reason="best")
    nbmlops.set_alias("kill-model", "champion", 1)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

    def export_killed(method: str, nth: int) -> None:
        args = [sys.executable, "-c", _KILL_EXPORT, method, str(nth), uri]
        assert subprocess.run(args, env=env, timeout=300).returncode == -9

    client = _client(uri)
    # 1. killed as the third run ends: two runs whole, the third half-written
    export_killed("set_terminated", 3)
    exp_id = client.get_experiment_by_name("kill-exp").experiment_id
    half = [r for r in client.search_runs([exp_id]) if "nbmlops.export.complete" not in r.data.tags]
    assert len(client.search_runs([exp_id])) == 3 and len(half) == 1
    assert half[0].data.params and half[0].info.status == "RUNNING"
    # 2. killed in the models phase: the version is created, its stage not yet applied
    export_killed("transition_model_version_stage", 1)
    assert len(client.search_model_versions("name='kill-model'")) == 1
    # 3. the rerun completes and writes nothing twice
    report = nbmlops.export_mlflow(uri, "kill-exp", progress_bar=False)
    assert report.written["runs"] == 0 and report.present["runs"] == 4, report
    assert report.present["model versions"] == 1 and not report.written["model versions"]

    runs = client.search_runs([exp_id])  # active runs: each nbmlops run exactly once
    assert sorted(r.data.tags["nbmlops.run_id"] for r in runs) == sorted(ours)
    for r in runs:
        assert r.data.tags["nbmlops.export.complete"] == "true"
        assert r.info.run_name == ours[r.data.tags["nbmlops.run_id"]]
        assert r.info.status == "FINISHED" and r.data.params["kernel"] == "rbf"
        assert len(client.get_metric_history(r.info.run_id, "loss")) == 3
        assert [a.path for a in client.list_artifacts(r.info.run_id)] == ["notes.txt"] or (
            r.info.run_name == "r1"
        )
    # the half-written run was deleted (MLflow's trash, purged by `mlflow gc`), not kept
    deleted = client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [half[0].info.run_id]
    versions = client.search_model_versions("name='kill-model'")
    assert len(versions) == 1 and versions[0].current_stage == "Production"
    assert str(client.get_model_version_by_alias("kill-model", "champion").version) == "1"
    # and importing the store back gives the same runs, once
    monkeypatch.setenv("NBMLOPS_HOME", str(tmp_path / "back"))
    nbmlops.configure(reset=True)
    back = nbmlops.import_mlflow(uri, "kill-exp", progress_bar=False)
    assert back.written["runs"] == 4 and back.written["model versions"] == 1, back
    assert sorted(nbmlops.runs("kill-exp")["run_id"]) == sorted(ours)


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
        parent.log_input(pd.DataFrame(X, columns=["a", "b"]), "train", info={"context": "train"})
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
                "inputs": run.inputs,
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
    (logged,) = by_name["parent"].inputs.dataset_inputs  # MLflow sees the input and its context
    assert logged.dataset.name == "train" and len(logged.dataset.digest) <= 36
    assert {t.key: t.value for t in logged.tags}["mlflow.data.context"] == "train"
    found = client.search_runs([by_name["parent"].info.experiment_id], "datasets.context = 'train'")
    assert [r.info.run_name for r in found] == ["parent"]
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
