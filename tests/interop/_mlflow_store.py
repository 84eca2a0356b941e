"""A real MLflow sqlite store made by MLflow's own client, shared by the interop tests."""

from __future__ import annotations

import warnings
from pathlib import Path

# Run start times (ms since the epoch) chosen so the search tests can use them.
T0 = 1_700_000_000_000


def build_store(folder: Path) -> dict:
    """Experiments, runs (every status kind, nested, metric histories, artifacts) and two
    registered sklearn model versions (skops and cloudpickle) with stage and alias."""
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param
    from sklearn.linear_model import LogisticRegression

    warnings.filterwarnings("ignore", category=FutureWarning)
    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp_a = client.create_experiment("exp-a", artifact_location=(folder / "art-a").as_uri())
    exp_b = client.create_experiment("exp-b", artifact_location=(folder / "art-b").as_uri())
    ids = {}

    def run(exp, name, start, status, params, metrics, tags=(), parent=None, end=None):
        tags = dict(tags)
        if parent:
            tags["mlflow.parentRunId"] = ids[parent]
        r = client.create_run(exp, start_time=start, run_name=name, tags=tags)
        rid = r.info.run_id
        client.log_batch(
            rid,
            params=[Param(k, val) for k, val in params.items()],
            metrics=[Metric(k, val, ts, step) for k, val, ts, step in metrics],
        )
        client.set_terminated(rid, status, end_time=end or start + 5000)
        ids[name] = rid
        return rid

    run(
        exp_a,
        "svm-a",
        T0,
        "FINISHED",
        {"C": "0.5", "kernel": "rbf", "layers": "[64, 32]", "lr": "1e-3", "flag": "True"},
        [
            ("loss", 0.9, T0 + 1, 0),
            ("loss", 0.5, T0 + 2, 1),
            ("loss", 0.25, T0 + 3, 2),
            ("acc", 0.95, T0 + 4, 0),
            ("f1-macro", 0.85, T0 + 4, 0),
        ],
        {"team": "risk", "note": "a=b AND c"},
    )
    run(
        exp_a,
        "svm-b",
        T0 + 1000,
        "FAILED",
        {"C": "1.0", "kernel": "linear", "my param": "A"},
        [("acc", 0.92, T0 + 1001, 0), ("nan-metric", float("nan"), T0 + 1002, 0)],
        {"team": "growth"},
    )
    run(
        exp_a,
        "SVM-c",
        T0 + 2000,
        "KILLED",
        {"C": "2", "kernel": "linear"},
        [("acc", 0.80, T0 + 2001, 0)],
        {"team": "risk", "owner": "ana"},
        parent="svm-a",
    )
    run(
        exp_b,
        "tree",
        T0 + 3000,
        "FINISHED",
        {"depth": "3", "kernel": "rbf"},
        [("acc", 0.80, T0 + 3001, 0)],
        {},
    )
    from mlflow.entities import Dataset, DatasetInput, InputTag

    client.log_inputs(  # logged datasets: two inputs, one with a context
        ids["svm-a"],
        [
            DatasetInput(
                Dataset("train-set", "d1gest", "local", "/data/train.csv", '{"cols": 2}'),
                [InputTag("mlflow.data.context", "train"), InputTag("owner", "ana")],
            ),
            DatasetInput(Dataset("holdout", "d2gest", "local", "/data/holdout.csv"), []),
        ],
    )
    client.log_text(ids["svm-a"], "hello", "notes/readme.txt")
    client.log_dict(ids["svm-a"], {"a": 1}, "config.json")

    search = client.create_experiment("search", artifact_location=(folder / "art-s").as_uri())
    # The runs of MLflow's own search tests (key1, my_param, tag1), plus keys that need
    # quoting, LIKE targets, ties on start time and on metric values, and missing values.
    run(  # started first, ended last: end_time orders differently from start_time
        search,
        "run-0",
        T0 + 10_000,
        "FAILED",
        {"my_param": "A"},
        [("key1", 121, T0, 0)],
        end=T0 + 30_000,
    )
    run(
        search,
        "Run-1",
        T0 + 11_000,
        "FINISHED",
        {"my_param": "A", "p.a.r.a.m": "a"},
        [("key1", 123, T0, 0), ("f1-macro", 0.7, T0, 0)],
        {"tag1": "C", "t.a.g": "a"},
    )
    run(
        search,
        "run-2",
        T0 + 11_000,
        "FAILED",
        {"my_param": "B"},
        [("key1", 125, T0, 0), ("Mean Square Error", 2.5, T0, 0)],
        {"tag1": "D"},
    )
    run(
        search,
        "other",
        T0 + 12_000,
        "FINISHED",
        {"my_param": "a", "lr": "0.01"},
        [("key1", 121, T0, 0), ("f1-macro", 0.9, T0, 0), ("Mean Square Error", 1.5, T0, 0)],
        {"env": "prod", "tag1": "c"},
    )
    run(search, "run-4", T0 + 13_000, "KILLED", {"p.a.r.a.m": "b"}, [], {"t.a.g": "b"})

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    X = [[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]]
    y = [0, 1, 0, 1]
    with mlflow.start_run(run_id=ids["svm-a"]):
        mlflow.sklearn.log_model(
            LogisticRegression(C=0.5).fit(X, y),
            name="model",
            serialization_format="skops",
            registered_model_name="churn",
            pip_requirements=["scikit-learn"],  # no requirement inference: it imports torch …
        )
    with mlflow.start_run(run_id=ids["svm-b"]):
        mlflow.sklearn.log_model(
            LogisticRegression(C=1.0).fit(X, y),
            name="model",
            serialization_format="cloudpickle",
            registered_model_name="churn",
            pip_requirements=["scikit-learn"],  # no requirement inference: it imports torch …
        )
    client.set_terminated(ids["svm-a"], "FINISHED", end_time=T0 + 5000)
    client.set_terminated(ids["svm-b"], "FAILED", end_time=T0 + 6000)
    client.update_registered_model("churn", description="churn model")
    client.transition_model_version_stage("churn", "1", "Production")
    client.transition_model_version_stage("churn", "2", "Staging")
    client.set_registered_model_alias("churn", "champion", "1")
    client.set_model_version_tag("churn", "1", "validated", "yes")
    return {"uri": uri, "ids": ids, "folder": folder}
