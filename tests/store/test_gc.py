"""``nbmlops gc``: what killed writes and deleted records leave behind is found and removed.

Garbage is made for real: a process killed with SIGKILL while it writes an artifact (a
``.tmp-*`` file stays), a process killed with SIGKILL inside a feature ingest after its Parquet
file was written and before it was committed, and a blob whose only run was deleted. Only
files older than the grace period count, so a write in progress is never removed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

import nbmlops
from nbmlops.cli import main
from nbmlops.store import get_store

WRITE_FROM_STDIN = textwrap.dedent(
    """
    import sys
    from nbmlops.store import get_store
    get_store().artifacts.put_stream(sys.stdin.buffer)  # killed before stdin ends
    """
)

INGEST_THEN_HANG = textwrap.dedent(
    """
    import time
    import pandas as pd
    from nbmlops import features
    from nbmlops.store.features import FeatureRecords

    def hang(self, write_id, **values):  # the Parquet file is written, the row not committed
        print("written", flush=True)
        time.sleep(3600)

    FeatureRecords.commit_write = hang
    card = features.Entity("card", join_keys=["card_id"])
    view = features.FeatureView("spend", card, [features.Field("spend", "float64")], timestamp="ts")
    rows = pd.DataFrame({"card_id": range(1000), "spend": 1.0,
                         "ts": pd.Timestamp("2024-01-01", tz="UTC")})
    features.ingest(view, rows)
    """
)


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _wait_for(condition, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _kill_artifact_write(artifacts: Path) -> Path:
    """SIGKILL a process in the middle of storing an artifact; return its temporary file."""
    writer = subprocess.Popen([sys.executable, "-c", WRITE_FROM_STDIN], stdin=subprocess.PIPE)
    chunk = os.urandom(1 << 20)
    for _ in range(3):
        writer.stdin.write(chunk)
    writer.stdin.flush()

    def partial_temp_file():
        temps = list(artifacts.rglob(".tmp-*"))
        return temps[0] if temps and temps[0].stat().st_size >= 3 << 20 else None

    temp = _wait_for(partial_temp_file, "the artifact write to reach 3 MB")
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    assert writer.returncode == -signal.SIGKILL
    return temp


def _kill_feature_ingest(offline: Path) -> Path:
    """SIGKILL a process after its ingest wrote the Parquet file, before the commit."""
    ingest = subprocess.Popen(
        [sys.executable, "-c", INGEST_THEN_HANG], stdout=subprocess.PIPE, text=True
    )
    assert ingest.stdout.readline().strip() == "written"
    ingest.send_signal(signal.SIGKILL)
    ingest.wait(timeout=60)
    files = list(offline.rglob("*.parquet"))
    assert len(files) == 1
    return files[0]


def _age(paths, seconds: float) -> None:
    then = time.time() - seconds
    for path in paths:
        os.utime(path, (then, then))


def _gc(*args: str):
    result = CliRunner().invoke(main, ["gc", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_gc_finds_and_removes_what_killed_writes_and_deleted_runs_leave(workspace, tmp_path):
    artifacts = workspace / "artifacts"
    with nbmlops.start_run(name="kept") as kept:
        kept.log_text("still used\n", "notes.txt")
    doomed_file = tmp_path / "doomed.bin"
    doomed_file.write_bytes(os.urandom(200_000))
    with nbmlops.start_run(name="deleted") as doomed:
        doomed.log_artifact(doomed_file)
    orphan = Path(get_store().artifacts.path_of(_digest(doomed)))
    get_store().meta.delete_run(doomed.run_id)

    temp = _kill_artifact_write(artifacts)
    parquet = _kill_feature_ingest(workspace / "features" / "offline")
    garbage = [temp, orphan, parquet]

    # Fresh files are within the grace period: a write in progress looks just like them.
    fresh = _gc()
    assert fresh.exit_code == 0
    assert "nothing to remove" in fresh.output
    assert all(p.exists() for p in garbage)

    _age(garbage, 2 * 3600)  # as if the kills happened two hours ago
    with get_store().meta.engine.begin() as conn:
        conn.execute(text("UPDATE feature_writes SET created_at = created_at - 7200"))
    listed = _gc()
    assert listed.exit_code == 0
    for path, reason in (
        (temp, "temporary file of an interrupted write"),
        (orphan, "orphaned blob"),
        (parquet, "uncommitted Parquet"),
    ):
        assert str(path) in listed.output
        assert reason in listed.output
    assert "MB" in listed.output and "KB" in listed.output  # sizes shown
    assert "pending feature write" in listed.output
    assert "dry run" in listed.output
    assert all(p.exists() for p in garbage)  # a dry run deletes nothing

    deleted = _gc("--yes")
    assert deleted.exit_code == 0, deleted.output
    assert "deleted 4 item(s)" in deleted.output
    assert not any(p.exists() for p in garbage)
    assert kept.read_text("notes.txt") == "still used\n"  # what is used stays
    assert nbmlops.get_run(kept.run_id).environment["packages"]
    assert "nothing to remove" in _gc("--older-than", "0s").output

    doctor = CliRunner().invoke(main, ["doctor", "--full"])
    assert doctor.exit_code == 0, doctor.output
    assert "garbage        none" in doctor.output


def _digest(run) -> str:
    import hashlib

    return hashlib.sha256(run.read_artifact("doomed.bin")).hexdigest()


def test_gc_never_removes_a_live_write_or_content_stored_again(workspace, tmp_path):
    with nbmlops.start_run(name="first") as first:
        first.log_text("shared content\n", "a.txt")
    blob = Path(get_store().artifacts.path_of(_text_digest("shared content\n")))
    get_store().meta.delete_run(first.run_id)
    _age([blob], 2 * 3600)
    assert str(blob) in _gc().output  # orphaned and old: garbage
    # The same content is stored again: its blob counts as new, even before the row exists.
    get_store().artifacts.put_bytes(b"shared content\n")
    assert "nothing to remove" in _gc().output
    live = blob.parent / ".tmp-live-write"
    live.write_bytes(b"x" * 1000)  # just written: inside the grace period
    assert "nothing to remove" in _gc("--yes").output
    assert live.exists() and blob.exists()


def _text_digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def test_gc_rejects_a_bad_grace_period(workspace):
    result = CliRunner().invoke(main, ["gc", "--older-than", "soon"])
    assert result.exit_code == 2
    assert "not a duration" in result.output
