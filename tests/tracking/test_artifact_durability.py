"""A run's artifacts are written without an fsync each, and synced in one batch before the run
finishes (issue 18): what a finished run references is on disk, and a killed process loses
none of what it logged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbmlops
from nbmlops.store import get_store

_CHILD = textwrap.dedent(
    """
    import sys, time
    import nbmlops

    run = nbmlops.start_run(name="killed")
    for i in range(50):
        run.log_text(f"text {i}", f"texts/{i}.txt")
    print(run.run_id, flush=True)
    time.sleep(600)  # killed (SIGKILL) by the test before this ends
    """
)


def test_artifacts_survive_kill_9_right_after_the_call(workspace: Path):
    env = {**os.environ, "NBMLOPS_HOME": str(workspace)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        run_id = child.stdout.readline().strip()
        assert run_id, "the child process ended before logging"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=60)
        child.stdout.close()
    run = nbmlops.get_run(run_id)
    assert len([a for a in run.artifacts if a.startswith("texts/")]) == 50
    for i in (0, 25, 49):
        assert run.read_text(f"texts/{i}.txt") == f"text {i}"  # verified against its sha256


def test_a_run_syncs_its_artifacts_before_its_final_status_commits(workspace: Path):
    store = get_store()
    status_when_synced: list[str] = []
    real_sync = store.artifacts.sync

    def sync():  # records what a reader saw when the blobs were synced
        if store.artifacts.unsynced:
            status_when_synced.append(store.meta.get_run(run.run_id)["status"])
        return real_sync()

    store.artifacts.sync = sync
    with nbmlops.start_run() as run:
        for i in range(20):
            run.log_text(f"text {i}", f"t/{i}.txt")
        run.log_bytes(b"\x00\x01", "b.bin")
    assert store.artifacts.unsynced == 0
    assert status_when_synced and status_when_synced[-1] == "RUNNING"
    assert nbmlops.get_run(run.run_id).status == "FINISHED"


def test_the_background_writer_syncs_a_running_runs_artifacts(workspace: Path):
    nbmlops.configure(flush_s=0.05)
    store = get_store()
    with nbmlops.start_run() as run:
        run.log_text("hello", "a.txt")
        deadline = time.monotonic() + 60
        while store.artifacts.unsynced and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.artifacts.unsynced == 0  # synced while the run is still open


def test_a_durable_write_of_pending_content_syncs_it(workspace: Path):
    store = get_store()
    with nbmlops.start_run() as run:
        before = store.artifacts.unsynced  # git.diff when the tests run in a dirty clone
        run.log_text("shared content", "a.txt")
        assert store.artifacts.unsynced == before + 1
        # The same bytes stored durably elsewhere (a report, a model file) must be on disk
        # when that call returns, although the blob already existed.
        store.artifacts.put_bytes(b"shared content")
        assert store.artifacts.unsynced == before
