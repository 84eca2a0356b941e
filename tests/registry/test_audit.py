"""The audit log: every registry change appends a hash-chained event in its own transaction;
changing, removing or reordering any row is found by ``verify_audit`` / ``nbmlops audit
verify``, which names the first broken row. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import threading

import pytest
from click.testing import CliRunner
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
from sqlalchemy import text

import nbmlops
from nbmlops.cli import main
from nbmlops.errors import StoreCorrupted
from nbmlops.store import get_store
from nbmlops.store.audit import GENESIS, event_hash


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def logged(backend):
    """Two versions of 'iris', promoted and aliased: six events in the log."""
    X, y = load_iris(return_X_y=True, as_frame=True)
    for depth in (1, 2):
        model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)
        nbmlops.register_model(model, "iris")
    nbmlops.promote("iris", 1, reason="first")
    nbmlops.promote("iris", 2, reason="better")
    nbmlops.set_alias("iris", "champion", 2)
    return backend


def _sql(statement: str, **params) -> None:
    with get_store().meta.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_registry_changes_are_chained_into_the_log(logged, monkeypatch):
    log = nbmlops.audit_log("iris")
    assert list(log["kind"]) == [
        "model.register",
        "model.register",
        "model.promote",
        "model.promote",  # v1 archived when v2 went to production
        "model.promote",
        "model.alias",
    ]
    assert list(log["seq"]) == [1, 2, 3, 4, 5, 6]
    assert log["prev_hash"].iloc[0] == GENESIS
    assert list(log["prev_hash"].iloc[1:]) == list(log["hash"].iloc[:-1])
    promoted = log.iloc[4]
    assert promoted["subject"] == "models:/iris/2"
    assert promoted["payload"]["to_stage"] == "production"
    assert promoted["payload"]["reason"] == "better"
    monkeypatch.setenv("NBMLOPS_USER", "auditor-ann")
    nbmlops.get_model("models:/iris/1").update(description="shallow")
    assert nbmlops.audit_log(kind="model.update")["actor"].tolist() == ["auditor-ann"]
    check = nbmlops.verify_audit()
    assert check.ok and check.rows == 7 and check.head_seq == 7, check


def test_a_change_and_its_event_commit_together(logged):
    # Without the head row no event can be chained: the promotion is refused whole.
    _sql("DELETE FROM audit_head")
    with pytest.raises(StoreCorrupted, match="audit log's head row"):
        nbmlops.promote("iris", 1, reason="back")
    assert nbmlops.get_model("models:/iris@production").version == 2
    assert len(nbmlops.model_history("iris")) == 6


def test_an_edited_row_is_named(logged):
    _sql("UPDATE audit_events SET payload = :p WHERE seq = 3", p='{"reason":"forged"}')
    check = nbmlops.verify_audit()
    assert not check.ok
    assert check.first_problem["seq"] == 3 and check.first_problem["problem"] == "changed"
    assert "row 3 was changed" in check.message


def test_an_edit_that_recomputes_its_own_hash_is_named(logged):
    row = dict(nbmlops.audit_log().iloc[2])
    row["actor"] = "mallory"
    row["payload"] = json.dumps(row["payload"], sort_keys=True, separators=(",", ":"))
    row["at"] = row["at"].timestamp()
    forged = event_hash(row)
    _sql("UPDATE audit_events SET actor = 'mallory', hash = :h WHERE seq = 3", h=forged)
    check = nbmlops.verify_audit()
    assert check.first_problem["seq"] == 3 and check.first_problem["problem"] == "changed"


def test_a_removed_row_is_named(logged):
    _sql("DELETE FROM audit_events WHERE seq = 4")
    check = nbmlops.verify_audit()
    assert check.first_problem == {
        "seq": 4,
        "problem": "removed",
        "message": "row 4 of the audit log was removed",
    }


def test_a_removed_last_row_is_named(logged):
    _sql("DELETE FROM audit_events WHERE seq = 6")
    check = nbmlops.verify_audit()
    assert check.first_problem["problem"] == "removed" and check.first_problem["seq"] == 6


def test_reordered_rows_are_named(logged):
    _sql("UPDATE audit_events SET seq = -1 WHERE seq = 4")
    _sql("UPDATE audit_events SET seq = 4 WHERE seq = 5")
    _sql("UPDATE audit_events SET seq = 5 WHERE seq = -1")
    check = nbmlops.verify_audit()
    assert check.first_problem["seq"] == 4 and check.first_problem["problem"] == "reordered"


def test_cli_verify_and_export(logged, tmp_path):
    runner = CliRunner()
    done = runner.invoke(main, ["audit", "verify"])
    assert done.exit_code == 0 and "intact: 6 rows" in done.output
    done = runner.invoke(main, ["audit", "export", str(tmp_path / "log.jsonl")])
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    # An auditor re-checks the chain from the export alone.
    prev = GENESIS
    for row in rows:
        assert row["prev_hash"] == prev and event_hash(row) == row["hash"]
        prev = row["hash"]
    done = runner.invoke(main, ["audit", "export", str(tmp_path / "log.csv")])
    with open(tmp_path / "log.csv", newline="") as fh:
        assert [r["hash"] for r in csv.DictReader(fh)] == [r["hash"] for r in rows]
    _sql("UPDATE audit_events SET kind = 'model.alias' WHERE seq = 2")
    done = runner.invoke(main, ["audit", "verify"])
    assert done.exit_code == 1 and "row 2 was changed" in done.output


def test_concurrent_writers_never_fork_the_chain(backend):
    audit = get_store().audit
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            start.wait(timeout=60)
            for i in range(10):
                audit.record("test.event", f"worker/{worker}", {"i": i}, f"w{worker}")
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    check = nbmlops.verify_audit()
    assert check.ok and check.rows == 40, check
    assert sorted(nbmlops.audit_log()["seq"]) == list(range(1, 41))
