"""Lineage of a model version: data and feature views → training run (code, environment) →
version → approvals → stages, as edges, JSON and a plotly figure; linked from the card."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import nbmlops
from nbmlops.features import Entity, FeatureStore, FeatureView, Field


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_lineage_lists_data_features_run_and_approvals(workspace, monkeypatch):
    rng = np.random.default_rng(0)
    t0 = pd.Timestamp("2024-03-01")
    customers = np.arange(40)
    stats = FeatureView(
        "stats",
        Entity("customer", join_keys="customer_id"),
        [Field("spend", "float64")],
        timestamp="ts",
        ttl=dt.timedelta(days=30),
    )
    fs = FeatureStore()
    fs.apply(stats)
    fs.ingest(
        stats,
        pd.DataFrame({"customer_id": customers, "ts": t0, "spend": rng.normal(50, 10, 40)}),
    )
    labels = pd.DataFrame(
        {
            "customer_id": customers,
            "event_timestamp": t0 + pd.Timedelta(days=1),
            "churned": np.arange(40) % 2,
        }
    )
    with nbmlops.start_run(name="train-churn") as run:
        train = fs.get_historical_features(labels, ["stats:spend"])
        X = train[["spend"]]
        nbmlops.log_input(labels, "labels")
        model = LogisticRegression().fit(X, train["churned"])
    fs.close()
    mv = nbmlops.register_model(model, "churn", run=run, reference=X)
    monkeypatch.setenv("NBMLOPS_USER", "alice")
    nbmlops.set_policy("churn", production={"approvals": 1, "separate_approver": True})
    request = nbmlops.promote("churn", mv.version, reason="first churn model")
    monkeypatch.setenv("NBMLOPS_USER", "bob")
    nbmlops.approve(request, reason="card reviewed")

    graph = nbmlops.lineage("models:/churn@production")
    edges = graph.edges
    relations = set(zip(edges["source_kind"], edges["relation"], edges["target_kind"], strict=True))
    assert ("feature_view", "features", "run") in relations
    assert ("data", "input", "run") in relations  # the labels frame the run read
    assert ("environment", "environment", "run") in relations
    assert ("run", "trained", "model_version") in relations
    assert ("data", "reference", "model_version") in relations
    assert ("model_version", "requested", "request") in relations
    assert ("model_version", "promote", "stage") in relations
    nodes = graph.nodes.set_index("id")
    assert nodes.loc["feature_view:stats@1", "label"] == "stats v1"
    assert nodes.loc[f"run:{run.run_id}", "kind"] == "run"
    approval = nodes.loc[f"request:{request.id}", "details"]
    assert approval["approved_by"] == ["bob"] and approval["requested_by"] == "alice"
    as_json = json.loads(graph.to_json())
    assert as_json["uri"] == mv.uri and len(as_json["edges"]) == len(edges)
    figure = graph.figure()
    assert {t.name for t in figure.data} >= {"feature view", "run", "model version", "request"}
    bundle = graph._repr_mimebundle_()
    assert "application/vnd.plotly.v1+json" in bundle and "text/html" in bundle
    card = nbmlops.model_card("churn").to_markdown()
    assert "nbmlops.lineage('models:/churn/1')" in card
    assert "Approvals" in card and "bob" in card and "Policy" in card
