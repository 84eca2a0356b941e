"""Policies, promotion requests and approvals: a promotion under a policy waits for approval,
four eyes are enforced, the completing approval re-checks gates and promotes exactly once,
and a request expires when its champion or candidate changes. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from click.testing import CliRunner
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import nbmlops
from nbmlops.cli import main
from nbmlops.errors import ApprovalError, GateFailed, InvalidModel, RequestExpired
from nbmlops.registry import approvals
from nbmlops.registry._context import acting_as
from nbmlops.store import get_store

GATE = "metrics.acc >= champion.metrics.acc"


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def set_acc(version: int, acc: float) -> None:
    """Store metric ``acc`` on a version, as ``nbmlops.evaluate`` stores its metrics."""
    row = {"segment": "", "key": "acc", "value": acc, "n": 150, "dataset_digest": None, "at": 1.0}
    get_store().models.save_metrics("iris", version, [row])


@pytest.fixture(scope="module")
def trees():
    X, y = load_iris(return_X_y=True, as_frame=True)
    return [DecisionTreeClassifier(max_depth=d, random_state=0).fit(X, y) for d in (1, 2, 3)]


# The tests whose locking differs between SQLite and PostgreSQL run on both; the rest of the
# rules are the same code on either, so they run on SQLite only (CI time).
ON_POSTGRES_TOO = {
    "test_promotion_under_a_policy_waits_for_approval",
    "test_two_concurrent_approvals_promote_exactly_once",
    "test_request_expires_when_the_champion_changes",
    "test_last_approval_rechecks_gates_against_the_champion_now",
}


@pytest.fixture
def governed(request, backend, monkeypatch, trees):
    """'iris' v1 in production (acc 0.8), v2 (0.9) and v3 (0.7) registered; production needs
    one approval by someone other than the requester, and must beat the champion."""
    if backend == "postgres" and request.node.originalname not in ON_POSTGRES_TOO:
        pytest.skip("same code path as on SQLite")
    for model, acc in zip(trees, (0.8, 0.9, 0.7), strict=True):
        mv = nbmlops.register_model(model, "iris")
        set_acc(mv.version, acc)
    nbmlops.promote("iris", 1, reason="first")
    monkeypatch.setenv("NBMLOPS_USER", "alice")
    nbmlops.set_policy(
        "iris", production={"approvals": 1, "separate_approver": True, "gates": [GATE]}
    )
    return backend


def _production() -> int:
    return nbmlops.get_model("models:/iris@production").version


def test_promotion_under_a_policy_waits_for_approval(governed, monkeypatch):
    request = nbmlops.promote("iris", 2, reason="beats v1")
    assert isinstance(request, nbmlops.PromotionRequest)
    assert request.status == "pending" and _production() == 1
    table = request.gate_table
    assert table["passed"].all() and table["gate"].tolist() == [GATE]
    pending = nbmlops.promotion_requests("iris")
    assert pending["id"].tolist() == [request.id] and pending["requested_by"][0] == "alice"
    # Four eyes: alice asked, alice cannot approve.
    with pytest.raises(ApprovalError, match="separate approver"):
        nbmlops.approve(request)
    assert _production() == 1
    monkeypatch.setenv("NBMLOPS_USER", "bob")
    done = nbmlops.approve(request.id, reason="looked at the card")
    assert done.status == "approved" and done.approvals == ["bob"]
    assert _production() == 2
    history = nbmlops.model_history("iris")
    assert history["user"].iloc[-1] == "bob"
    assert "request" in history["reason"].iloc[-1] and "bob" in history["reason"].iloc[-1]
    kinds = nbmlops.audit_log("iris", kind="request.")["kind"].tolist()
    assert kinds == ["request.create", "request.approval", "request.approved"]
    assert nbmlops.verify_audit().ok
    with pytest.raises(ApprovalError, match="already approved"):
        nbmlops.approve(request)


def test_failing_policy_gates_open_no_request(governed):
    with pytest.raises(GateFailed, match="1 of 1 gates failed"):
        nbmlops.promote("iris", 3, reason="worse")
    assert nbmlops.promotion_requests("iris").empty


def test_rejection_closes_the_request(governed, monkeypatch):
    request = nbmlops.promote("iris", 2)
    monkeypatch.setenv("NBMLOPS_USER", "carol")
    assert nbmlops.reject(request, reason="not this week").status == "rejected"
    assert _production() == 1
    assert nbmlops.promotion_requests("iris").empty
    assert nbmlops.promotion_requests("iris", status="rejected")["id"].tolist() == [request.id]


def test_two_approvals_needed_and_counted_once_per_person(governed, monkeypatch):
    nbmlops.set_policy("iris", production={"approvals": 2, "gates": [GATE]})
    request = nbmlops.promote("iris", 2)
    nbmlops.approve(request)  # alice may approve: no four-eyes rule now
    with pytest.raises(ApprovalError, match="counts once per person"):
        nbmlops.approve(request)
    assert request.status == "pending" and _production() == 1
    monkeypatch.setenv("NBMLOPS_USER", "bob")
    nbmlops.approve(request)
    assert request.status == "approved" and _production() == 2


def test_request_expires_when_the_champion_changes(governed, monkeypatch):
    nbmlops.set_policy("iris", production={"approvals": 1, "separate_approver": True})
    first = nbmlops.promote("iris", 3, reason="v3")
    second = nbmlops.promote("iris", 2, reason="v2")
    monkeypatch.setenv("NBMLOPS_USER", "bob")
    nbmlops.approve(second)
    assert _production() == 2
    listed = nbmlops.promotion_requests("iris", status=None).set_index("id")
    assert listed.loc[first.id, "status"] == "expired"
    with pytest.raises(RequestExpired, match="production version changed from 1 to 2"):
        nbmlops.approve(first)
    assert _production() == 2 and first.status == "expired"


def test_request_expires_when_the_candidate_changes(governed, monkeypatch):
    request = nbmlops.promote("iris", 2)
    nbmlops.promote("iris", 2, to="staging")  # staging needs no approval
    monkeypatch.setenv("NBMLOPS_USER", "bob")
    with pytest.raises(RequestExpired, match="moved from no stage to staging"):
        nbmlops.approve(request)


def test_last_approval_rechecks_gates_against_the_champion_now(governed, monkeypatch):
    request = nbmlops.promote("iris", 2)
    # The champion is re-evaluated meanwhile and now scores higher than the candidate.
    set_acc(1, 0.95)
    monkeypatch.setenv("NBMLOPS_USER", "bob")
    with pytest.raises(GateFailed, match="re-checked against production version 1") as info:
        nbmlops.approve(request)
    assert info.value.table["value"].tolist() == [0.9]
    assert info.value.table["threshold"].tolist() == [0.95]
    assert _production() == 1 and request.status == "failed"


def test_two_concurrent_approvals_promote_exactly_once(governed):
    request = nbmlops.promote("iris", 2)
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def approve_as(user: str) -> None:
        with acting_as(user):
            start.wait(timeout=60)
            try:
                outcomes.append(approvals.approve(request.id, reason=user).status)
            except ApprovalError as exc:
                outcomes.append(exc)

    threads = [threading.Thread(target=approve_as, args=(u,)) for u in ("bob", "carol")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == 2
    assert sum(o == "approved" for o in outcomes) == 1, outcomes
    (refused,) = [o for o in outcomes if isinstance(o, ApprovalError)]
    assert "already approved" in str(refused)
    history = nbmlops.model_history("iris")
    assert (history["to_stage"] == "production").sum() == 2  # v1 first, v2 once
    assert _production() == 2 and nbmlops.verify_audit().ok


def test_policy_is_checked_and_shown(governed):
    with pytest.raises(InvalidModel, match="unknown key"):
        nbmlops.set_policy("iris", production={"approval": 1})
    with pytest.raises(InvalidModel, match="unknown stage"):
        nbmlops.set_policy("iris", prod={"approvals": 1})
    assert nbmlops.model_policy("iris")["production"] == {
        "approvals": 1,
        "separate_approver": True,
        "gates": [GATE],
    }
    nbmlops.set_policy("iris")
    assert nbmlops.model_policy("iris") == {}
    assert isinstance(nbmlops.promote("iris", 2), nbmlops.ModelVersion)


def test_cli_policy_requests_approve_reject(governed, monkeypatch):
    runner = CliRunner()
    done = runner.invoke(main, ["models", "policy", "iris"])
    assert done.exit_code == 0 and "separate approver" in done.output
    done = runner.invoke(main, ["models", "promote", "iris", "2", "-r", "beats v1"])
    assert done.exit_code == 0 and "pending" in done.output, done.output
    done = runner.invoke(main, ["models", "requests"])
    assert done.exit_code == 0 and "alice" in done.output
    request_id = int(nbmlops.promotion_requests("iris")["id"][0])
    done = runner.invoke(main, ["models", "approve", str(request_id)])
    assert done.exit_code == 2 and "separate approver" in done.output
    monkeypatch.setenv("NBMLOPS_USER", "bob")
    done = runner.invoke(main, ["models", "approve", str(request_id), "-r", "ok"])
    assert done.exit_code == 0 and "approved" in done.output, done.output
    assert _production() == 2
    other = nbmlops.promote("iris", 3, to="staging")
    assert isinstance(other, nbmlops.ModelVersion)
    done = runner.invoke(main, ["models", "reject", "999"])
    assert done.exit_code == 2 and "no promotion request 999" in done.output
