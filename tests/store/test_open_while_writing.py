"""Opening a store whose schema is current never waits behind a writer.

The schema version is read first, without a lock; the write lock is taken only to migrate.
Marking stale runs KILLED, the one write a read may do, gives up quickly when the store is
locked. Here another process holds SQLite's write lock (an open ``BEGIN IMMEDIATE``) until the
test lets it go, and fresh processes open the store and list runs meanwhile.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

import nbmlops
from nbmlops.store import get_store

HOLD_LOCK = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE runs SET name = 'being written'")
    print("locked", flush=True)
    sys.stdin.readline()  # hold the write lock until the test says so
    conn.execute("COMMIT")
    print("released", flush=True)
    """
)


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def writer_holding_the_lock(workspace):
    with nbmlops.start_run(name="before"):
        nbmlops.log_metric("m", 1.0)
    # A run whose process died long ago: reading runs marks it KILLED, which is a write.
    long_ago = time.time() - 10 * 24 * 3600
    get_store().meta.create_run(
        {
            "run_id": uuid.uuid4().hex,
            "name": "stale",
            "status": "RUNNING",
            "start_time": long_ago,
            "heartbeat_at": long_ago,
        },
        "default",
    )
    database = get_store().meta.engine.url.database
    nbmlops.configure(reset=True)  # this process keeps no connection open
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, database],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        if holder.poll() is None:
            holder.stdin.write("go\n")
            holder.stdin.flush()
        holder.wait(timeout=120)


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "nbmlops", "runs", "ls", "--json"],
        ["-c", "import nbmlops; print(nbmlops.runs().to_json(orient='records'))"],
    ],
    ids=["cli", "api"],
)
def test_a_fresh_process_reads_runs_while_another_holds_the_write_lock(
    writer_holding_the_lock, command
):
    reader = subprocess.Popen(
        [sys.executable, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        # Condition, not a tight timeout: the reader must finish while the lock is still held
        # (the writer only lets go after this wait). Before the fix it waited for the lock.
        out, err = reader.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        reader.kill()
        reader.communicate()
        pytest.fail("opening the store waited for another process's write lock")
    assert writer_holding_the_lock.poll() is None  # the lock was held all along
    assert reader.returncode == 0, err
    shown = out.replace(" ", "")
    assert '"name":"before"' in shown
    # Marking the stale run KILLED waited for a later read instead of for the lock.
    assert '"name":"stale","status":"RUNNING"' in shown


def test_threads_opening_a_new_sqlite_store_together_all_get_it(tmp_path):
    """Switching a new file to WAL needs it alone, and SQLite refuses that at once (no busy
    wait) while another connection has it open: 1 open in 10 failed with "database is
    locked" when six threads opened a new store together."""
    import threading

    from nbmlops.store.metadata import MetadataStore

    for round_ in range(40):
        url = f"sqlite:///{tmp_path / f'new-{round_}.db'}"
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []
        opened: list[MetadataStore] = []

        def open_store(url=url, barrier=barrier, errors=errors, opened=opened) -> None:
            try:
                barrier.wait(timeout=60)
                opened.append(MetadataStore(url))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=open_store) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        for store in opened:
            store.dispose()
        assert errors == [], f"round {round_}: {errors[0]!r}"
        assert len(opened) == 8
