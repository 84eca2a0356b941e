"""A store that does not answer fails with a ``StoreError`` within its timeout, never hangs.

PostgreSQL: a server that accepts connections but never replies hits the connect timeout, a
statement stuck behind a lock hits the statement timeout. SQLite: a writer waiting for another
process's lock gives up after the busy timeout. Each is a setting (environment variable or
``nbmlops.configure``) and each error names the setting and hides the password.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from sqlalchemy import create_engine, text

import nbmlops
from nbmlops.errors import StoreUnavailable
from nbmlops.store import get_store


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def silent_server():
    """A TCP listener that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=30)
    for conn in held:
        conn.close()
    server.close()


def test_the_cli_gives_up_on_a_server_that_never_answers(workspace, silent_server):
    url = f"postgresql://alice:s3cret-pw@127.0.0.1:{silent_server}/runs"
    env = {**os.environ, "NBMLOPS_STORE_URL": url, "NBMLOPS_CONNECT_TIMEOUT_S": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbmlops", "runs", "ls"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _out, err = proc.communicate(timeout=120)  # generous: the setting says 2 s
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("`nbmlops runs ls` hung on a server that never answers")
    assert proc.returncode == 2
    assert "Traceback" not in err
    assert f"alice:***@127.0.0.1:{silent_server}/runs" in err
    assert "s3cret-pw" not in err
    assert "NBMLOPS_CONNECT_TIMEOUT_S" in err


def test_the_api_gives_up_on_a_server_that_never_answers(workspace, silent_server):
    nbmlops.configure(
        store_url=f"postgresql://alice:s3cret-pw@127.0.0.1:{silent_server}/runs",
        connect_timeout_s=2,
    )
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            nbmlops.runs()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome.append(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(timeout=120)
    assert outcome, "nbmlops.runs() hung on a server that never answers"
    error = outcome[0]
    assert isinstance(error, StoreUnavailable), error
    assert "connect timeout 2 s" in str(error) and "s3cret-pw" not in str(error)


@pytest.mark.postgres
def test_a_statement_stuck_behind_a_lock_hits_the_statement_timeout(postgres_database):
    nbmlops.configure(store_url=postgres_database)
    get_store()  # the schema exists
    nbmlops.configure(statement_timeout_s=1)
    blocker = create_engine(postgres_database.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with blocker.connect() as conn:
            conn.execute(text("BEGIN"))
            conn.execute(text("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="NBMLOPS_STATEMENT_TIMEOUT_S") as caught:
                nbmlops.runs()
            assert time.monotonic() - started < 60  # the setting says 1 s; never a hang
            conn.execute(text("ROLLBACK"))
    finally:
        blocker.dispose()
    assert "did not answer a statement in time" in str(caught.value)
    nbmlops.configure(statement_timeout_s=60)
    assert nbmlops.runs().empty  # the store works once the lock is gone


HOLD_LOCK = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("COMMIT")
    """
)


def test_a_sqlite_writer_gives_up_after_the_busy_timeout(workspace, monkeypatch):
    database = get_store().meta.engine.url.database
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, database],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setenv("NBMLOPS_BUSY_TIMEOUT_S", "1")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="NBMLOPS_BUSY_TIMEOUT_S") as caught:
            nbmlops.start_run(name="waits")
        assert time.monotonic() - started < 60  # the default would wait 60 s, then 120 s
        assert "locked by other writers" in str(caught.value)
        assert nbmlops.active_run() is None
    finally:
        holder.stdin.write("go\n")
        holder.stdin.flush()
        holder.wait(timeout=60)
    with nbmlops.start_run(name="after"):
        pass
