"""``ab_report`` on a prediction log written the way a server writes it: batches of requests,
each row at its own time, some rows never labelled."""

from __future__ import annotations

import time

import numpy as np
import pytest

import nbmlops
from nbmlops.predictions.log import log_predictions

from .conftest import FEATURES, make_frame


@pytest.fixture
def ab_rollout(served_workspace):
    r = nbmlops.rollout("churn", candidate=2, mode="ab", every="1h", min_requests=10_000)
    yield r
    r.abort(reason="test cleanup")


def _log_arm(version: int, arm: str, frame, predictions, ids, at):
    log_predictions(
        "churn",
        version,
        frame[FEATURES],
        predictions,
        ids=ids,
        at=at,
        serving={
            "request_id": np.array(ids, dtype=object),
            "rollout_arm": np.array([arm] * len(ids), dtype=object),
            "latency_ms": np.ones(len(ids)),
        },
    )


def test_unlabelled_rows_do_not_turn_every_answer_wrong(ab_rollout):
    # Rows without a label make the joined label column float (1.0); the predictions are
    # integers (1): the report must still see that they agree.
    frame = make_frame(120, seed=11)
    truth = (frame["income"] > 50_000).astype(int).to_numpy()
    now = time.time() + 1
    ids = [f"req-{i}" for i in range(120)]
    _log_arm(1, "champion", frame.head(60), truth[:60], ids[:60], now)
    _log_arm(2, "candidate", frame.tail(60), 1 - truth[60:], ids[60:], now)
    nbmlops.log_labels(ids[:50] + ids[60:110], list(truth[:50]) + list(truth[60:110]))
    report = nbmlops.ab_report(ab_rollout, metrics=["accuracy"]).iloc[0]
    assert (report["n_champion"], report["n_candidate"]) == (50, 50)
    assert report["champion"] == 1.0 and report["candidate"] == 0.0


def test_rows_written_in_one_batch_keep_their_own_times(ab_rollout):
    # A server writes the requests of half a second at once; a request answered before the
    # rollout started must stay before it, not take the batch's newest time.
    created = nbmlops.rollouts().set_index("id").loc[ab_rollout.id, "created_at"].timestamp()
    frame = make_frame(2, seed=12)
    _log_arm(1, "champion", frame, [0, 1], ["old", "new"], [created - 5, created + 1])
    window = nbmlops.prediction_log("churn", start=created)
    assert "new" in set(window["prediction_id"]) and "old" not in set(window["prediction_id"])
    with pytest.raises(nbmlops.NbmlopsError, match="one time, or one per row"):
        log_predictions("churn", 1, frame[FEATURES], [0, 1], at=[created])
