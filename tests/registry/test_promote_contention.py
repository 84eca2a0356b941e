"""Gated promotions under contention: jittered backoff, then ``ConcurrentUpdate`` (never
``InvalidModel``), and never zero or two production versions."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import nbmlops
from nbmlops.errors import ConcurrentUpdate
from nbmlops.registry import _transitions
from nbmlops.store.backoff import backoff_delays

N_VERSIONS = 6


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def versions(backend):
    """Versions 1..6 of 'iris', each from a run with metric acc = 0.9."""
    X, y = load_iris(return_X_y=True, as_frame=True)
    for depth in range(1, N_VERSIONS + 1):
        with nbmlops.start_run() as run:
            model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)
            nbmlops.log_metric("acc", 0.9)
        nbmlops.register_model(model, "iris", run=run)
    nbmlops.promote("iris", 1)


def _production_versions() -> list[int]:
    frame = nbmlops.model_versions("iris")
    return [
        int(v) for v, s in zip(frame["version"], frame["stage"], strict=True) if s == "production"
    ]


PROMOTE_ON_REQUEST = textwrap.dedent(
    """
    import sys, nbmlops
    print("ready", flush=True)
    for line in sys.stdin:  # one promotion per request, of a version other than the current
        current = nbmlops.get_model("iris").version
        nbmlops.promote("iris", 2 if current != 2 else 3, reason="contender")
        print("done", flush=True)
    """
)


def test_a_gated_promote_that_never_settles_raises_concurrent_update(versions, monkeypatch):
    # Another process changes the production version right after every gate check of ours.
    contender = subprocess.Popen(
        [sys.executable, "-c", PROMOTE_ON_REQUEST],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    checks: list[float] = []
    real_check = _transitions.check_gates

    def check_then_another_process_promotes(name, version, gates):
        result = real_check(name, version, gates)
        checks.append(time.monotonic())
        contender.stdin.write("promote\n")
        contender.stdin.flush()
        assert contender.stdout.readline().strip() == "done"
        return result

    monkeypatch.setattr(_transitions, "check_gates", check_then_another_process_promotes)
    monkeypatch.setattr(_transitions, "_MAX_GATE_TRIES", 6)
    try:
        assert contender.stdout.readline().strip() == "ready"
        with pytest.raises(ConcurrentUpdate, match="try again") as caught:
            nbmlops.promote("iris", 5, gates=["metrics.acc >= 0.5"], reason="ours")
    finally:
        contender.stdin.close()
        contender.wait(timeout=60)
    assert isinstance(caught.value, RuntimeError)
    assert len(checks) == 6
    # Between tries it waited at least the lower half of each backoff ceiling (sleep never
    # returns early), so the tries were spaced out, not immediate.
    gaps = [b - a for a, b in zip(checks, checks[1:], strict=False)]
    floors = [min(1.0, 0.01 * 2**i) / 2 for i in range(5)]
    assert all(gap >= floor for gap, floor in zip(gaps, floors, strict=True)), (gaps, floors)
    assert 5 not in _production_versions()
    assert len(_production_versions()) == 1


def test_backoff_waits_grow_and_are_jittered():
    runs = [list(backoff_delays(8)) for _ in range(50)]
    for delays in runs:
        for i, delay in enumerate(delays):
            ceiling = min(1.0, 0.01 * 2**i)
            assert ceiling / 2 <= delay <= ceiling
    assert len({tuple(r) for r in runs}) == 50  # never in lockstep


def test_concurrent_gated_promotions_all_settle_with_one_production_version(versions):
    outcomes: dict[int, object] = {}
    barrier = threading.Barrier(N_VERSIONS)

    def promote(version: int) -> None:
        try:
            barrier.wait(timeout=60)
            for _ in range(3):
                nbmlops.promote(
                    "iris",
                    version,
                    gates=["metrics.acc >= champion.metrics.acc"],
                    reason=f"thread {version}",
                )
            outcomes[version] = "promoted"
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcomes[version] = exc

    threads = [threading.Thread(target=promote, args=(v,)) for v in range(1, N_VERSIONS + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    for version, outcome in outcomes.items():
        assert outcome == "promoted" or isinstance(outcome, ConcurrentUpdate), (version, outcome)
    assert "promoted" in outcomes.values()
    assert len(_production_versions()) == 1
    history = nbmlops.model_history("iris")
    promoted = history[(history["action"] == "promote") & (history["to_stage"] == "production")]
    assert pd.Series(promoted["version"]).isin(range(1, N_VERSIONS + 1)).all()
