"""The prediction log: concurrent writers, late labels, redaction, retention, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbmlops
from nbmlops.errors import PredictionLogError
from nbmlops.predictions.log import holdout_mask, to_epoch

from ._loop import DAY0, dataset, register

WRITER = textwrap.dedent(
    """
    import sys
    import nbmlops
    from tests.monitoring._loop import dataset

    worker = int(sys.argv[1])
    mv = nbmlops.get_model("models:/churn@production")
    for batch in range(8):
        X, _y = dataset(25, seed=1000 * worker + batch)
        ids = [f"w{worker}-b{batch}-r{i}" for i in range(25)]
        nbmlops.score(mv, X, ids=ids, at="2024-01-02T10:00:00")
    """
)


@pytest.mark.slow
def test_concurrent_writers_lose_no_rows(backend: str, workspace: Path):
    register()
    root = Path(__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    workers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(w)], env=env, cwd=root)
        for w in range(4)
    ]
    assert [p.wait(timeout=480) for p in workers] == [
        0,
        0,
        0,
        0,
    ]  # a deadline against hangs, not an expected time: the machine may be busy
    logged = nbmlops.prediction_log("churn")
    assert len(logged) == 4 * 8 * 25
    expected = {f"w{w}-b{b}-r{i}" for w in range(4) for b in range(8) for i in range(25)}
    assert set(logged["prediction_id"]) == expected
    # one file per write, all in the day's partition
    files = list((workspace / "predictions" / "churn").rglob("*.parquet"))
    assert len(files) == 32 and {f.parent.name for f in files} == {"date=2024-01-02"}


def test_late_labels_give_the_right_performance(backend: str, workspace: Path):
    from sklearn.metrics import accuracy_score, f1_score

    mv, _X, _y = register()
    X, y = dataset(200, seed=7)
    at = DAY0 + pd.Timedelta(hours=12)
    scored = nbmlops.score(mv, X, at=at)
    ids, pred = scored["prediction_id"].to_numpy(), scored["prediction"].to_numpy()
    # Half the labels arrive on day 2; a first, wrong label of 20 rows is corrected on day 4.
    nbmlops.log_labels(ids[:100], y[:100], at=DAY0 + pd.Timedelta(days=2))
    nbmlops.log_labels(ids[100:120], 1 - y[100:120], at=DAY0 + pd.Timedelta(days=3))
    nbmlops.log_labels(ids[100:], y[100:], at=DAY0 + pd.Timedelta(days=4))

    watch = nbmlops.monitor("churn", window="1d", checks=["f1 < 0.5"])
    early = watch.run(at=DAY0 + pd.Timedelta(days=1))
    assert early.rows == 200 and early.labelled == 0 and early.metrics == {}
    assert early.checks.loc[0, "detail"] == "no labelled rows in the window"

    # A run on day 3 (replayed later) sees only the labels that had arrived by then.
    seen = nbmlops.prediction_log("churn", as_of=DAY0 + pd.Timedelta(days=3), labelled=True)
    assert len(seen) == 120
    wrong = seen.set_index("prediction_id").loc[ids[100:120], "label"].to_numpy()
    assert (wrong == 1 - y[100:120]).all()

    late = nbmlops.monitor("churn", name="late", window="5d", checks=["f1 < 0.5"])
    result = late.run(at=DAY0 + pd.Timedelta(days=5))
    assert result.labelled == 200
    assert result.metrics["f1"] == pytest.approx(f1_score(y, pred))
    assert result.metrics["accuracy"] == pytest.approx(accuracy_score(y, pred))
    joined = nbmlops.prediction_log("churn", labelled=True).set_index("prediction_id")
    assert (joined.loc[ids, "label"].to_numpy() == y).all()  # the latest label wins


def test_redacted_columns_never_reach_disk(workspace: Path):
    nbmlops.configure(log_redact=["email"])
    X, y = dataset(50)
    markers = [f"secret-{i:04d}@example.org" for i in range(50)]
    X["email"] = markers
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(X[["income", "age"]], y)
    mv = nbmlops.register_model(model, "pii", input_example=X[["income", "age"]], reference=X)
    mv.promote()
    nbmlops.score("models:/pii@production", X, redact=["site"])
    mv.predict(X, log=True)
    logged = nbmlops.prediction_log("pii")
    assert len(logged) == 100 and "email" not in logged.columns
    assert logged["site"].isna().sum() == 50  # redacted in the first write only
    nbmlops.configure(reset=True)  # close the store so every byte is on disk
    blobs = [p.read_bytes() for p in workspace.rglob("*") if p.is_file()]
    assert blobs
    for marker in (b"secret-", b"example.org"):
        assert not any(marker in blob for blob in blobs)


def test_retention_removes_old_files(workspace: Path):
    mv, X, _y = register()
    nbmlops.score(mv, X.head(10), at=pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=40))
    nbmlops.configure(log_retention_days=30)
    nbmlops.score(mv, X.head(5))
    assert len(nbmlops.prediction_log("churn")) == 5
    assert len(list((workspace / "predictions").rglob("*.parquet"))) == 1


def test_holdout_split_is_stable_and_disjoint(workspace: Path):
    mv, X, _y = register()
    nbmlops.score(mv, X, at=DAY0)
    train = nbmlops.prediction_log("churn", split="train")
    held = nbmlops.prediction_log("churn", split="holdout", holdout=0.3)
    assert len(train) + len(held) == len(X)
    assert not set(train["prediction_id"]) & set(held["prediction_id"])
    assert 0.2 < len(held) / len(X) < 0.4
    ids = held["prediction_id"].to_numpy()
    assert holdout_mask(ids, 0.3).all()


def test_bad_input_is_refused_clearly(workspace: Path):
    mv, X, _y = register()
    with pytest.raises(PredictionLogError, match="clash with the log's own columns"):
        nbmlops.score(mv, X.assign(prediction=1))
    with pytest.raises(PredictionLogError, match="one id per row"):
        nbmlops.score(mv, X, ids=["a", "b"])
    with pytest.raises(PredictionLogError, match="unique"):
        nbmlops.score(mv, X.head(2), ids=["a", "a"])
    with pytest.raises(PredictionLogError, match="one label per id"):
        nbmlops.log_labels(["a", "b"], [1])
    with pytest.raises(PredictionLogError, match="at="):
        nbmlops.score(mv, X, at="not a time")
    with pytest.raises(nbmlops.MonitoringError, match="non-empty DataFrame"):
        nbmlops.set_reference(mv, [1, 2, 3])
    assert nbmlops.prediction_log("churn").empty


def test_prediction_log_of_an_unknown_model_is_model_not_found(workspace: Path):
    # An empty frame would read as "no traffic yet" for a typo'd name.
    with pytest.raises(nbmlops.ModelNotFound, match="no registered model named 'chrun'"):
        nbmlops.prediction_log("chrun")
    register()
    assert nbmlops.prediction_log("churn").empty  # registered, nothing logged: empty
    with pytest.raises(nbmlops.ModelNotFound):
        nbmlops.prediction_log("churn2")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"version": 10**30},
        {"version": "1e3"},
        {"labelled": "yes"},
        {"holdout": "0.3"},
        {"start": 10**30},
        {"end": float("inf")},
    ],
    ids=repr,
)
def test_prediction_log_refuses_bad_arguments(workspace: Path, kwargs):
    register()
    with pytest.raises(nbmlops.NbmlopsError):
        nbmlops.prediction_log("churn", **kwargs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=30),
        st.integers(min_value=-(10**12), max_value=10**12),
    )
)
def test_times_are_parsed_or_refused(value):
    try:
        epoch = to_epoch(value)
    except PredictionLogError:
        return
    assert isinstance(epoch, float) and np.isfinite(epoch)
