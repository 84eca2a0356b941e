"""The metadata store keeps what users rely on, on SQLite and PostgreSQL alike.

Experiments are created once however many kernels ask at once, params cannot change within a
run, the latest value of a metric is the one with the greatest (step, timestamp) whatever the
flush order, NaN survives the round trip, and only stale RUNNING runs are reaped.
"""

from __future__ import annotations

import math
import threading
import time
import uuid

import pytest

import nbmlops
from nbmlops.errors import InvalidParam
from nbmlops.store import KILLED_REASON, MetadataStore, get_store


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    # start_run records git state of the working directory; keep it out of these tests.
    monkeypatch.chdir(tmp_path)


def _row(**values) -> dict:
    now = time.time()
    row = {
        "run_id": uuid.uuid4().hex,
        "name": None,
        "status": "RUNNING",
        "start_time": now,
        "heartbeat_at": now,
    }
    row.update(values)
    return row


def _run_in_threads(n: int, target) -> list[BaseException]:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer thread hung"
    return errors


# -- experiments ------------------------------------------------------------------------------


def test_experiment_is_created_once_when_many_threads_ask_at_once(backend):
    meta = get_store().meta
    n = 12
    errors = _run_in_threads(n, lambda i: meta.create_run(_row(name=f"t{i}"), "shared"))
    assert errors == []
    shared = [e for e in meta.experiments() if e["name"] == "shared"]
    assert len(shared) == 1
    assert shared[0]["runs"] == n


def test_experiment_is_created_once_by_separate_store_handles(backend):
    # Separate MetadataStore objects (own engines, as separate kernels would have).
    url = nbmlops.get_settings().store_url
    get_store()  # the schema exists: this test is about experiments, not migrations
    handles = [MetadataStore(url) for _ in range(6)]
    try:
        errors = _run_in_threads(
            len(handles), lambda i: handles[i].create_run(_row(name=f"k{i}"), "team-exp")
        )
        assert errors == []
        rows = [e for e in handles[0].experiments() if e["name"] == "team-exp"]
        assert len(rows) == 1 and rows[0]["runs"] == len(handles)
    finally:
        for handle in handles:
            handle.dispose()


def test_start_run_reuses_an_existing_experiment(backend):
    with nbmlops.start_run(experiment="exp-a"):
        pass
    with nbmlops.start_run(experiment="exp-a"):
        pass
    frame = nbmlops.experiments()
    assert frame["name"].tolist().count("exp-a") == 1
    assert frame.loc[frame["name"] == "exp-a", "runs"].item() == 2


# -- params -----------------------------------------------------------------------------------


def test_params_cannot_change_within_a_run(backend):
    with nbmlops.start_run() as run:
        run.log_params({"C": 0.5, "kernel": "rbf"})
        run.log_param("C", 0.5)  # the same value again is fine
        run.log_params({"kernel": "rbf", "gamma": "scale"})
        with pytest.raises(InvalidParam, match="C") as info:
            run.log_params({"new": 1, "C": 0.6})
        assert info.value.key == "C"
        # A change of type is a change too: 0.5 is not "0.5".
        with pytest.raises(InvalidParam):
            run.log_param("C", "0.5")
        assert run.params == {"C": 0.5, "kernel": "rbf", "gamma": "scale"}


def test_param_change_is_refused_at_the_store_level_too(backend):
    meta = get_store().meta
    row = _row()
    meta.create_run(row, "default")
    meta.log_params(row["run_id"], {"lr": "0.1"})
    with pytest.raises(InvalidParam):
        meta.log_params(row["run_id"], {"other": "1", "lr": "0.2"})
    assert meta.run_details(row["run_id"])["params"] == {"lr": 0.1}


def test_params_of_one_run_do_not_constrain_another(backend):
    with nbmlops.start_run() as first:
        first.log_param("C", 0.5)
    with nbmlops.start_run() as second:
        second.log_param("C", 1.0)
    assert first.params == {"C": 0.5}
    assert second.params == {"C": 1.0}


# -- latest metrics ---------------------------------------------------------------------------


def test_latest_metric_keeps_greatest_step_then_timestamp_across_flushes(backend):
    meta = get_store().meta
    row = _row()
    rid = row["run_id"]
    meta.create_run(row, "default")

    def latest(key: str) -> float:
        return meta.run_details(rid)["metrics"][key]

    meta.log_metrics([(rid, "loss", 0.1, 5, 100.0)])
    meta.log_metrics([(rid, "loss", 0.9, 3, 200.0)])  # smaller step, flushed later
    assert latest("loss") == 0.1
    meta.log_metrics([(rid, "loss", 0.5, 5, 50.0)])  # same step, older timestamp
    assert latest("loss") == 0.1
    meta.log_metrics([(rid, "loss", 0.2, 5, 150.0)])  # same step, newer timestamp
    assert latest("loss") == 0.2
    meta.log_metrics([(rid, "loss", 0.3, 6, 1.0)])  # greater step wins even with an old time
    assert latest("loss") == 0.3

    # Out of order inside one batch as well.
    meta.log_metrics(
        [(rid, "acc", 0.7, 9, 10.0), (rid, "acc", 0.1, 2, 20.0), (rid, "acc", 0.4, 9, 5.0)]
    )
    assert latest("acc") == 0.7

    history = meta.metric_history(rid, "loss")
    assert [(step, value) for _key, step, value, _ts in history] == [
        (3, 0.9),
        (5, 0.5),
        (5, 0.1),
        (5, 0.2),
        (6, 0.3),
    ]


def test_latest_metric_through_the_buffered_api_and_runs_table(backend):
    with nbmlops.start_run() as run:
        run.log_metric("loss", 0.25, step=10)
        assert run.metrics == {"loss": 0.25}  # forces a flush of the buffer
        run.log_metric("loss", 0.75, step=2)  # an older step arrives later
        run.log_metric("loss", 0.5, step=10, timestamp=1.0)  # same step, older time
    assert run.metrics == {"loss": 0.25}
    frame = nbmlops.runs()
    assert frame.loc[frame.run_id == run.run_id, "metrics.loss"].item() == 0.25
    assert run.metric_history("loss")["step"].tolist() == [2, 10, 10]


def test_nan_metric_round_trips(backend):
    with nbmlops.start_run() as run:
        run.log_metric("nan_only", math.nan)
        run.log_metric("then_nan", 0.5, step=0)
        run.log_metric("then_nan", math.nan, step=1)
        run.log_metric("nan_then_value", math.nan, step=0)
        run.log_metric("nan_then_value", 0.7, step=1)
        run.log_metric("pos_inf", math.inf)
        run.log_metric("neg_inf", -math.inf)
    metrics = run.metrics
    assert math.isnan(metrics["nan_only"])
    assert math.isnan(metrics["then_nan"])
    assert metrics["nan_then_value"] == 0.7
    assert metrics["pos_inf"] == math.inf
    assert metrics["neg_inf"] == -math.inf

    history = run.metric_history("then_nan")
    assert history["value"].iloc[0] == 0.5
    assert math.isnan(history["value"].iloc[1])

    row = nbmlops.runs().iloc[0]
    assert math.isnan(row["metrics.nan_only"])
    assert math.isnan(row["metrics.then_nan"])
    assert row["metrics.pos_inf"] == math.inf

    # Read back through a brand-new store handle: nothing is cached in memory.
    nbmlops.configure(reset=True)
    again = nbmlops.get_run(run.run_id).metrics
    assert math.isnan(again["nan_only"])
    assert again["neg_inf"] == -math.inf


# -- stale runs -------------------------------------------------------------------------------


def test_reap_stale_marks_only_stale_running_runs_killed(backend):
    meta = get_store().meta
    now = time.time()
    stale = _row(name="stale", start_time=now - 1000, heartbeat_at=now - 500)
    fresh = _row(name="fresh")
    old_finished = _row(
        name="old-finished",
        status="FINISHED",
        start_time=now - 1000,
        heartbeat_at=now - 500,
        end_time=now - 500,
    )
    old_failed = _row(
        name="old-failed",
        status="FAILED",
        start_time=now - 1000,
        heartbeat_at=now - 500,
        end_time=now - 400,
        error="Traceback ...",
    )
    for row in (stale, fresh, old_finished, old_failed):
        meta.create_run(row, "default")
    meta.log_metrics(
        [(stale["run_id"], "loss", 0.3, 1, now - 600), (stale["run_id"], "loss", 0.2, 2, now - 550)]
    )
    meta.log_params(stale["run_id"], {"C": "0.5"})

    assert meta.reap_stale(stale_after_s=60) == [stale["run_id"]]

    killed = meta.get_run(stale["run_id"])
    assert killed["status"] == "KILLED"
    assert killed["error"] == KILLED_REASON
    assert killed["end_time"] == pytest.approx(now - 500)
    details = meta.run_details(stale["run_id"])
    assert details["metrics"] == {"loss": 0.2}
    assert details["params"] == {"C": 0.5}
    assert len(meta.metric_history(stale["run_id"])) == 2

    assert meta.get_run(fresh["run_id"])["status"] == "RUNNING"
    finished = meta.get_run(old_finished["run_id"])
    assert (finished["status"], finished["end_time"], finished["error"]) == (
        "FINISHED",
        pytest.approx(now - 500),
        None,
    )
    failed = meta.get_run(old_failed["run_id"])
    assert (failed["status"], failed["error"]) == ("FAILED", "Traceback ...")

    assert meta.reap_stale(stale_after_s=60) == []  # nothing left to reap


def test_reading_runs_reaps_stale_runs_of_dead_processes(backend):
    meta = get_store().meta
    now = time.time()
    dead = _row(name="dead", start_time=now - 100, heartbeat_at=now - 90)
    meta.create_run(dead, "default")
    meta.log_metrics([(dead["run_id"], "acc", 0.8, 0, now - 95)])
    with nbmlops.start_run(name="alive") as alive:
        nbmlops.configure(stale_after_s=30)
        frame = nbmlops.runs()
        status = dict(zip(frame["name"], frame["status"], strict=True))
        assert status == {"dead": "KILLED", "alive": "RUNNING"}
        assert nbmlops.get_run(dead["run_id"]).metrics == {"acc": 0.8}
        assert alive.status == "RUNNING"


@pytest.mark.parametrize("url", ["mysql://user@localhost/db", "oracle://u:p@host/db"])
def test_unsupported_databases_are_refused_when_the_store_opens(url):
    from nbmlops.errors import StoreError

    with pytest.raises(StoreError, match="SQLite or PostgreSQL"):
        MetadataStore(url)
