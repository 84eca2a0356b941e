"""A damaged store is reported clearly: a ``StoreError`` from the API, exit 2 without a
traceback from the CLI, and ``nbmlops doctor`` exits 1 naming what is wrong."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import nbmlops
from nbmlops.cli import main
from nbmlops.errors import StoreCorrupted, StoreError
from nbmlops.store import get_store


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _damage_table(database: str, table: str) -> None:
    """Overwrite the b-tree page type of ``table``'s root page, as a bad sector would."""
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(database, "r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(b"\xab")


@pytest.fixture
def damaged_workspace(workspace):
    """Runs with metrics, then the latest_metrics table damaged (the schema still opens)."""
    for i in range(5):
        with nbmlops.start_run(name=f"r{i}"):
            nbmlops.log_metric("acc", i / 10)
    database = get_store().meta.engine.url.database
    nbmlops.configure(reset=True)  # close every connection before damaging the file
    _damage_table(database, "latest_metrics")
    return workspace


def test_the_api_raises_store_corrupted(damaged_workspace):
    with pytest.raises(StoreCorrupted) as caught:
        nbmlops.runs()
    assert isinstance(caught.value, StoreError)
    message = str(caught.value)
    assert "damaged" in message and "nbmlops doctor" in message and "backup" in message


def test_the_cli_exits_2_with_the_error_and_no_traceback(damaged_workspace):
    done = subprocess.run(
        [sys.executable, "-m", "nbmlops", "runs", "ls"],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=300,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: the metadata store")
    assert "damaged" in done.stderr


def test_doctor_runs_quick_check_and_names_the_damaged_table(damaged_workspace):
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 1, result.output
    assert "database       PROBLEM: SQLite quick_check found damage" in result.output
    assert "tables that cannot be read: latest_metrics" in result.output
    assert result.output.rstrip().endswith("1 problem found")


def test_doctor_reports_missing_and_corrupted_artifacts(workspace, tmp_path):
    with nbmlops.start_run(name="with-files") as run:
        run.log_text("alpha\n", "a.txt")
        run.log_text("beta\n", "b.txt")
    store = get_store()
    alpha = hashlib.sha256(b"alpha\n").hexdigest()
    a = Path(store.artifacts.path_of(alpha))
    b = Path(store.artifacts.path_of(hashlib.sha256(b"beta\n").hexdigest()))
    assert CliRunner().invoke(main, ["doctor", "--full"]).exit_code == 0
    os.chmod(a, 0o644)
    a.write_bytes(b"ALPHA\n")
    b.unlink()
    result = CliRunner().invoke(main, ["doctor", "--full"])
    assert result.exit_code == 1, result.output
    assert "PROBLEM: 2 of all 3 stored blobs are missing or damaged" in result.output
    assert f"corrupted: sha256 {alpha[:16]}" in result.output
    assert f"run {run.run_id[:8]} artifact 'a.txt'" in result.output
    assert f"run {run.run_id[:8]} artifact 'b.txt'" in result.output
    assert "missing: " in result.output


def test_doctor_checks_a_server_store(backend):
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    if backend == "postgres":
        assert "PostgreSQL" in result.output and "round trip" in result.output
    else:
        assert "SQLite quick_check ok" in result.output
