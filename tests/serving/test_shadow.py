"""Shadow copies are scored in batches: one candidate call for many requests, each request's
predictions what it alone would get, and a request the candidate refuses failing alone."""

from __future__ import annotations

import numpy as np
import pytest

from nbmlops.serving.models import load_version
from nbmlops.serving.shadow import ShadowJob, ShadowScorer

from .conftest import FEATURES, make_frame


@pytest.fixture(scope="module")
def candidate(served_workspace):
    return load_version("churn", 2, False)


def _jobs(candidate, frames):
    return [
        ShadowJob(
            "churn", candidate, f, ("customer_id",), [f"r{i}/{j}" for j in range(len(f))], f"r{i}"
        )
        for i, f in enumerate(frames)
    ]


class _Calls:
    def __init__(self):
        self.scored, self.failed = [], []

    def on_scored(self, jobs, frame, predictions, seconds):
        assert len(frame) == len(predictions) == sum(len(j.ids) for j in jobs)
        bounds = np.cumsum([0] + [len(j.ids) for j in jobs])
        outs = [predictions[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
        self.scored.append((jobs, outs, seconds))

    def on_failed(self, job, exc):
        self.failed.append((job, exc))


def test_one_candidate_call_scores_a_batch_split_back_per_request(candidate):
    rows = make_frame(30, seed=8)[["customer_id", *FEATURES]]
    frames = [rows.iloc[i : i + n] for i, n in ((0, 1), (1, 5), (6, 1), (7, 20), (27, 3))]
    calls = _Calls()
    scorer = ShadowScorer(calls.on_scored, calls.on_failed)
    for job in _jobs(candidate, frames):
        scorer.submit(job)
    assert scorer.drain() == 30
    assert len(calls.scored) == 1 and not calls.failed  # one batch, one call
    jobs, outs, seconds = calls.scored[0]
    assert [j.request_id for j in jobs] == ["r0", "r1", "r2", "r3", "r4"] and seconds > 0
    for frame, out in zip(frames, outs, strict=True):
        alone = candidate.predict(candidate.check(frame, ("customer_id",)))
        np.testing.assert_array_equal(out, alone)


def test_a_request_the_candidate_refuses_fails_alone(candidate):
    rows = make_frame(6, seed=9)[["customer_id", *FEATURES]]
    bad = rows.iloc[[2]].assign(unknown_column=1.0)  # the candidate's check refuses it
    frames = [rows.iloc[[0]], rows.iloc[[1]], bad, rows.iloc[3:6]]
    calls = _Calls()
    scorer = ShadowScorer(calls.on_scored, calls.on_failed)
    for job in _jobs(candidate, frames):
        scorer.submit(job)
    assert scorer.drain() == 5
    assert [job.request_id for job, _ in calls.failed] == ["r2"]
    assert "unknown_column" in str(calls.failed[0][1])
    scored = [j.request_id for jobs, _, _ in calls.scored for j in jobs]
    assert scored == ["r0", "r1", "r3"]


def test_batches_are_cut_at_the_row_limit_and_waiting_rows_are_bounded(candidate):
    rows = make_frame(10, seed=10)[["customer_id", *FEATURES]]
    calls = _Calls()
    scorer = ShadowScorer(calls.on_scored, calls.on_failed, max_batch_rows=4, max_pending_rows=8)
    for job in _jobs(candidate, [rows.iloc[[i]] for i in range(10)]):
        scorer.submit(job)
    assert scorer.dropped == 2  # beyond 8 waiting rows the copies are dropped, not queued
    assert scorer.drain() == 8
    assert [len(jobs) for jobs, _, _ in calls.scored] == [4, 4]
