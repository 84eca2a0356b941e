"""Runs survive what kernels do to them: SIGKILL, many writers at once, exceptions, exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import nbmlops
from nbmlops.store import get_store


def _env(workspace: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBMLOPS_")}
    env.update({"NBMLOPS_HOME": str(workspace)}, **extra)
    return env


@pytest.mark.slow
def test_sigkilled_process_reads_killed_with_metrics_logged_before(workspace: Path, tmp_path):
    # The child logs one metric value per 50 ms; once the store holds 40 of them we kill it
    # without warning, and every value that had reached the store must still be there. We
    # wait on the store, not on a guess of how fast a busy machine flushes.
    script = textwrap.dedent(
        """
        import time
        import nbmlops
        run = nbmlops.start_run(name="doomed")
        print(run.run_id, flush=True)
        step = 0
        while True:
            nbmlops.log_metric("loss", 1.0 / (step + 1), step=step)
            step += 1
            time.sleep(0.05)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(workspace, NBMLOPS_HEARTBEAT_S="0.2", NBMLOPS_STALE_AFTER_S="1.5"),
    )
    run_id = child.stdout.readline().strip()
    store = get_store()
    deadline = time.time() + 300
    while len(stored := store.meta.metric_history(run_id, "loss")) < 40:
        assert time.time() < deadline and child.poll() is None, "the child logged nothing"
        time.sleep(0.1)
    before = {row[1] for row in stored}
    child.send_signal(signal.SIGKILL)
    killed_at = time.time()
    child.wait(timeout=60)

    run = nbmlops.get_run(run_id)
    assert run.status == "RUNNING"  # not stale yet: its last heartbeat is fresh

    nbmlops.configure(heartbeat_s=0.2, stale_after_s=1.5)  # as the killed process had
    time.sleep(1.6)
    run = nbmlops.get_run(run_id)
    assert run.status == "KILLED"
    assert "heartbeats" in run.error
    assert run.end_time is not None and run.end_time <= killed_at

    stored_after = set(run.metric_history("loss")["step"])
    assert before <= stored_after, f"lost steps {sorted(before - stored_after)[:10]}"
    assert stored_after == set(range(len(stored_after)))  # a prefix, no gaps
    frame = nbmlops.runs()
    assert frame.loc[frame.run_id == run_id, "status"].item() == "KILLED"


WRITER = textwrap.dedent(
    """
    import sys
    import nbmlops
    worker = int(sys.argv[1])
    for i in range({runs}):
        with nbmlops.start_run(name=f"w{{worker}}-{{i}}", experiment=f"exp-{{worker % 2}}"):
            nbmlops.log_params({{"worker": worker, "i": i}})
            for step in range({metrics}):
                nbmlops.log_metric("m", step * 0.5, step=step)
    print("done", worker, flush=True)
    """
)


@pytest.mark.slow
def test_eight_processes_write_one_sqlite_store_at_once(workspace: Path):
    processes, runs_each, metrics_each = 8, 200, 50
    script = WRITER.format(runs=runs_each, metrics=metrics_each)
    started = time.time()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(w)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(workspace),
        )
        for w in range(processes)
    ]
    outputs = [child.communicate(timeout=600) for child in children]
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert "locked" not in err.lower() and "Traceback" not in err, err
        assert out.startswith("done")
    elapsed = time.time() - started

    store = get_store()
    counts = store.meta.counts()
    assert counts["runs"] == processes * runs_each
    assert counts["metrics"] == processes * runs_each * metrics_each
    assert counts["by_status"] == {"FINISHED": processes * runs_each}
    frame = nbmlops.runs()
    assert len(frame) == 1600
    assert (frame["metrics.m"] == (metrics_each - 1) * 0.5).all()
    assert sorted(frame["experiment"].unique()) == ["exp-0", "exp-1"]
    print(f"8 x 200 runs x 50 metrics in {elapsed:.1f}s")


def test_exception_marks_run_failed_and_propagates(workspace):
    with pytest.raises(ValueError, match="boom"), nbmlops.start_run(name="bad") as run:
        nbmlops.log_metric("before", 1.0)
        raise ValueError("boom")
    assert run.status == "FAILED"
    assert "ValueError: boom" in run.error
    assert run.metrics == {"before": 1.0}
    assert nbmlops.active_run() is None


def test_script_exiting_with_open_run_ends_it(workspace: Path):
    ok = subprocess.run(
        [
            sys.executable,
            "-c",
            "import nbmlops; r = nbmlops.start_run(name='open');"
            "nbmlops.log_metric('x', 2.0); print(r.run_id)",
        ],
        capture_output=True,
        text=True,
        env=_env(workspace),
        check=True,
    )
    crashed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import nbmlops; r = nbmlops.start_run(name='crash');"
            "print(r.run_id, flush=True); raise SystemError('oops')",
        ],
        capture_output=True,
        text=True,
        env=_env(workspace),
    )
    assert crashed.returncode != 0
    finished = nbmlops.get_run(ok.stdout.strip())
    assert finished.status == "FINISHED"
    assert finished.metrics == {"x": 2.0}
    failed = nbmlops.get_run(crashed.stdout.strip())
    assert failed.status == "FAILED"
    assert "SystemError: oops" in failed.error


def test_heartbeat_revives_a_run_wrongly_marked_killed(workspace, monkeypatch):
    # A process that held the GIL past the stale timeout is alive after all: its next
    # heartbeat sets the run back to RUNNING, and ending it records the real status.
    nbmlops.configure(heartbeat_s=0.1)
    with nbmlops.start_run(name="slow") as run:
        store = get_store()
        store.meta.reap_stale(0.0, now=time.time() + 1)
        assert store.meta.get_run(run.run_id)["status"] == "KILLED"
        deadline = time.time() + 60  # a busy machine may delay the heartbeat thread
        while store.meta.get_run(run.run_id)["status"] != "RUNNING" and time.time() < deadline:
            time.sleep(0.05)
        assert store.meta.get_run(run.run_id)["status"] == "RUNNING"
    assert run.status == "FINISHED"
