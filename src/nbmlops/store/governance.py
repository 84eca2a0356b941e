"""Reads and writes of release governance: policies per model name, promotion requests and
the decisions on them.

Every write locks the model's row first (as every registry write does, so the lock order is
always model → request → audit head and no two writers deadlock), appends its audit event in
the same transaction, and the approval that completes a request moves the version in that
transaction too: two approvals racing for the last slot promote exactly once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from ..errors import ApprovalError, ModelNotFound, RequestNotFound
from . import _schema as t
from ._engine import read_transaction
from .audit import append as audit
from .metadata import _upsert
from .models import PRODUCTION, ModelRecords

PENDING = "pending"
# A gate check: given the production version now, the gate table (records) and whether all
# passed.
GateCheck = Callable[[int | None], tuple[list[dict], bool]]


class GovernanceRecords:
    """The governance tables of one metadata store."""

    def __init__(self, meta, models: ModelRecords) -> None:
        self.meta = meta
        self.engine = meta.engine
        self.models = models

    # -- policies -----------------------------------------------------------------------------

    def set_policy(self, name: str, policy: dict | None, user: str | None) -> None:
        """Store (or with None remove) the policy of ``name``."""

        def fn(conn):
            self.models._lock(conn, name)
            if policy:
                _upsert(
                    conn,
                    t.model_policies,
                    [
                        {
                            "name": name,
                            "policy": json.dumps(policy, sort_keys=True),
                            "updated_at": time.time(),
                            "user_name": user,
                        }
                    ],
                    ["name"],
                )
            else:
                conn.execute(delete(t.model_policies).where(t.model_policies.c.name == name))
            audit(conn, "policy.set", f"models:/{name}", {"policy": policy or None}, user)

        self.meta._write(fn)

    def policy(self, name: str) -> dict | None:
        with read_transaction(self.engine) as conn:
            self.models._require_model(conn, name)
            found = conn.execute(
                select(t.model_policies.c.policy).where(t.model_policies.c.name == name)
            ).scalar()
        return None if found is None else json.loads(found)

    # -- requests -----------------------------------------------------------------------------

    def create_request(
        self,
        name: str,
        version: int,
        to_stage: str,
        rule: dict,
        gates: list[str],
        gate_table: list[dict],
        expected_champion: int | None,
        user: str | None,
        reason: str | None,
    ) -> int:
        """Open a pending request; an older pending request for the same version and stage is
        closed as superseded. Raises ``ChampionChanged`` (nothing written) if the production
        version is no longer ``expected_champion``, the one the gates were checked against."""
        from .models import ChampionChanged

        def fn(conn):
            self.models._lock(conn, name)
            stage = self.models._stage_of(conn, name, version)
            champion = self.models._production(conn, name)
            if champion != expected_champion:
                raise ChampionChanged()
            now = time.time()
            result = conn.execute(
                insert(t.promotion_requests).values(
                    name=name,
                    version=version,
                    to_stage=to_stage,
                    status=PENDING,
                    champion_version=champion,
                    candidate_stage=stage,
                    approvals_needed=int(rule["approvals"]),
                    separate_approver=bool(rule["separate_approver"]),
                    gates=json.dumps(gates),
                    gate_table=json.dumps(gate_table),
                    requested_by=user,
                    requested_at=now,
                    reason=reason,
                )
            )
            request_id = int(result.inserted_primary_key[0])
            older = (
                conn.execute(
                    select(t.promotion_requests.c.id).where(
                        t.promotion_requests.c.name == name,
                        t.promotion_requests.c.version == version,
                        t.promotion_requests.c.to_stage == to_stage,
                        t.promotion_requests.c.status == PENDING,
                        t.promotion_requests.c.id != request_id,
                    )
                )
                .scalars()
                .all()
            )
            for old in older:
                self._close(conn, old, "expired", user, f"superseded by request {request_id}")
            audit(
                conn,
                "request.create",
                f"models:/{name}/{version}",
                {
                    "request": request_id,
                    "to_stage": to_stage,
                    "approvals_needed": int(rule["approvals"]),
                    "separate_approver": bool(rule["separate_approver"]),
                    "gates": gates,
                    "gate_table": gate_table,
                    "champion_version": champion,
                    "reason": reason,
                },
                user,
            )
            return request_id

        return self.meta._write(fn)

    def _close(
        self, conn: Connection, request_id: int, status: str, user: str | None, outcome: str
    ) -> None:
        conn.execute(
            update(t.promotion_requests)
            .where(t.promotion_requests.c.id == request_id)
            .values(status=status, closed_at=time.time(), closed_by=user, outcome=outcome)
        )
        row = self._row(conn, request_id)
        audit(
            conn,
            f"request.{status}",
            f"models:/{row['name']}/{row['version']}",
            {"request": request_id, "outcome": outcome},
            user,
        )

    @staticmethod
    def _row(conn: Connection, request_id: int, lock: bool = False) -> dict:
        query = select(t.promotion_requests).where(t.promotion_requests.c.id == request_id)
        if lock:
            query = query.with_for_update()
        # Ids are database integers: one outside 64 bits names no request.
        in_range = isinstance(request_id, int) and 0 < request_id < 2**63
        row = conn.execute(query).mappings().first() if in_range else None
        if row is None:
            raise RequestNotFound(
                f"no promotion request {request_id}; list them with nbmlops.promotion_requests()"
            )
        return dict(row)

    def _staleness(self, conn: Connection, row: dict) -> str | None:
        """Why a pending request no longer holds (its candidate or champion changed)."""
        champion = self.models._production(conn, row["name"])
        if champion != row["champion_version"]:
            was = row["champion_version"]
            return (
                f"the production version changed from {was if was is not None else 'none'} "
                f"to {champion if champion is not None else 'none'} since the request"
            )
        try:
            stage = self.models._stage_of(conn, row["name"], row["version"])
        except ModelNotFound:
            return f"version {row['version']} was deleted since the request"
        if stage != row["candidate_stage"]:
            return (
                f"version {row['version']} moved from {row['candidate_stage'] or 'no stage'} "
                f"to {stage or 'no stage'} since the request"
            )
        return None

    def decide(
        self,
        request_id: int,
        user: str | None,
        decision: str,
        reason: str | None,
        check: GateCheck,
    ) -> dict[str, Any]:
        """Record ``user``'s ``decision`` (``approve`` | ``reject``) on a pending request.

        The approval that completes it re-checks the gates (``check``) against the
        production version at that moment and, if they pass, moves the version in this same
        transaction. Returns ``{"request": row, "outcome": "recorded" | "approved" |
        "rejected" | "expired" | "failed", "gate_table": records | None, "detail": str}``;
        an expired or failed request is closed and committed before the caller raises.
        """
        with read_transaction(self.engine) as conn:
            name = self._row(conn, request_id)["name"]

        def fn(conn):
            self.models._lock(conn, name)
            row = self._row(conn, request_id, lock=True)
            if row["status"] != PENDING:
                raise ApprovalError(
                    f"request {request_id} ({row['name']} v{row['version']} to "
                    f"{row['to_stage']}) is already {row['status']}"
                    + (f": {row['outcome']}" if row["outcome"] else "")
                )
            if not user:
                raise ApprovalError("cannot tell who is deciding: set NBMLOPS_USER to your name")
            stale = self._staleness(conn, row)
            if stale is not None:
                self._close(conn, request_id, "expired", user, stale)
                return self._result(conn, request_id, "expired", None, stale)
            if decision == "approve" and row["separate_approver"] and user == row["requested_by"]:
                raise ApprovalError(
                    f"{user} requested this promotion and the policy of {row['name']!r} asks "
                    "for a separate approver (four eyes): another person must approve it"
                )
            already = conn.execute(
                select(t.request_decisions.c.decision).where(
                    t.request_decisions.c.request_id == request_id,
                    t.request_decisions.c.user_name == user,
                )
            ).scalar()
            if already is not None:
                raise ApprovalError(
                    f"{user} already decided on request {request_id} ({already}); an approval "
                    "counts once per person"
                )
            now = time.time()
            conn.execute(
                insert(t.request_decisions).values(
                    request_id=request_id, user_name=user, decision=decision, at=now, reason=reason
                )
            )
            subject = f"models:/{row['name']}/{row['version']}"
            audit(
                conn,
                "request.approval" if decision == "approve" else "request.rejection",
                subject,
                {"request": request_id, "reason": reason},
                user,
            )
            if decision == "reject":
                self._close(conn, request_id, "rejected", user, f"rejected by {user}")
                return self._result(conn, request_id, "rejected", None, f"rejected by {user}")
            approvers = self._approvers(conn, request_id)
            if len(approvers) < row["approvals_needed"]:
                return self._result(conn, request_id, "recorded", None, "")
            champion = self.models._production(conn, row["name"])
            table, passed = check(champion)
            conn.execute(
                update(t.promotion_requests)
                .where(t.promotion_requests.c.id == request_id)
                .values(gate_table=json.dumps(table))
            )
            if not passed:
                detail = (
                    f"its gates failed when re-checked against production version {champion} "
                    f"at the last approval"
                )
                self._close(conn, request_id, "failed", user, detail)
                return self._result(conn, request_id, "failed", table, detail)
            gates = json.loads(row["gates"] or "[]")
            note = f"request {request_id}, approved by {', '.join(approvers)}" + (
                f": {row['reason']}" if row["reason"] else ""
            )
            self.models.move(
                conn, row["name"], row["version"], row["to_stage"], user, note, gates or None
            )
            self._close(conn, request_id, "approved", user, f"approved by {', '.join(approvers)}")
            return self._result(conn, request_id, "approved", table, "")

        return self.meta._write(fn)

    def _result(self, conn, request_id, outcome, table, detail) -> dict[str, Any]:
        return {
            "request": self._row(conn, request_id),
            "outcome": outcome,
            "gate_table": table,
            "detail": detail,
        }

    @staticmethod
    def _approvers(conn: Connection, request_id: int) -> list[str]:
        return list(
            conn.execute(
                select(t.request_decisions.c.user_name)
                .where(
                    t.request_decisions.c.request_id == request_id,
                    t.request_decisions.c.decision == "approve",
                )
                .order_by(t.request_decisions.c.at)
            )
            .scalars()
            .all()
        )

    # -- reads --------------------------------------------------------------------------------

    def request(self, request_id: int) -> dict:
        with read_transaction(self.engine) as conn:
            return self._with_decisions(conn, [self._row(conn, request_id)])[0]

    def requests(self, name: str | None = None, status: str | None = PENDING) -> list[dict]:
        """Requests newest first; a pending request whose candidate or champion changed is
        shown as ``expired`` (it is closed as such when someone next decides on it)."""
        query = select(t.promotion_requests).order_by(t.promotion_requests.c.id.desc())
        if name is not None:
            query = query.where(t.promotion_requests.c.name == name)
        with read_transaction(self.engine) as conn:
            if name is not None:
                self.models._require_model(conn, name)
            rows = [dict(r) for r in conn.execute(query).mappings()]
            for row in rows:
                if row["status"] == PENDING:
                    stale = self._staleness(conn, row)
                    if stale is not None:
                        row["status"], row["outcome"] = "expired", stale
            if status is not None:
                rows = [r for r in rows if r["status"] == status]
            return self._with_decisions(conn, rows)

    @staticmethod
    def _with_decisions(conn: Connection, rows: list[dict]) -> list[dict]:
        ids = [r["id"] for r in rows]
        decisions: dict[int, list[dict]] = {}
        if ids:
            for d in conn.execute(
                select(t.request_decisions)
                .where(t.request_decisions.c.request_id.in_(ids))
                .order_by(t.request_decisions.c.at)
            ).mappings():
                decisions.setdefault(d["request_id"], []).append(dict(d))
        for row in rows:
            row["decisions"] = decisions.get(row["id"], [])
            row["gates"] = json.loads(row["gates"] or "[]")
            row["gate_table"] = json.loads(row["gate_table"] or "[]")
        return rows


__all__ = ["PENDING", "PRODUCTION", "GovernanceRecords"]
