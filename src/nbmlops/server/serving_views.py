"""JSON views of serving for the REST API: rollouts with their arms, traffic shares and guard
values, the abort that sends every server back to the champion, and the servers seen."""

from __future__ import annotations

import json
from typing import Any

from ..errors import NbmlopsError, ServingError
from .views import _epoch, jsonable

ACTIVE = ("running", "paused")
# Events whose detail holds the guard table of the evaluation that caused them.
_GUARDED = ("advance", "abort", "complete")


class RolloutConflict(ServingError):
    """The rollout is not in a state the change applies to (the API answers 409)."""

    http_status = 409


def arms(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Who answers what share of traffic: the champion and the candidate (a shadow copies
    every request to the candidate, whose answers are only logged)."""
    share = float(row["share"])
    champion = {"arm": "champion", "version": row["champion"]}
    if row["mode"] == "shadow":
        live = row["status"] in ACTIVE
        return [
            {**champion, "share": 100.0},
            {"arm": "shadow", "version": row["candidate"], "share": 100.0 if live else 0.0},
        ]
    return [
        {**champion, "share": 100.0 - share},
        {"arm": "candidate", "version": row["candidate"], "share": share},
    ]


def _last_guard_table(rollout_id: int) -> tuple[list[dict] | None, float | None, int | None]:
    """The guard table stored with the last advance, abort or completion (an ended rollout is
    not evaluated again)."""
    from ..registry._context import current_store

    for event in reversed(current_store().rollouts.events(rollout_id)):
        if event["kind"] not in _GUARDED or not event["detail"]:
            continue
        detail = json.loads(event["detail"])
        if isinstance(detail, dict) and detail.get("guards"):
            return detail["guards"], float(event["at"]), detail.get("requests")
    return None, None, None


def rollout_view(row: dict[str, Any], evaluate: bool = True) -> dict[str, Any]:
    """One rollout as JSON: versions, mode, step, arms, status, and ``guards`` — for a running
    or paused rollout its evaluation now (what the servers' next evaluation sees), for an
    ended one the table stored when it ended (None when no guard was ever evaluated)."""
    import time

    from ..serving.rollouts import evaluation

    guards_table: list[dict] | None = None
    evaluated_at: float | None = None
    requests: int | None = None
    problem: str | None = None
    if row["status"] in ACTIVE and evaluate:
        try:
            now = time.time()
            result = evaluation(row, now)
            guards_table = json.loads(result["table"].to_json(orient="records"))
            evaluated_at, requests = now, result["requests"]
        except NbmlopsError as exc:  # the rollout is still shown; the sidebar says why
            problem = str(exc)
    elif row["status"] not in ACTIVE:
        guards_table, evaluated_at, requests = _last_guard_table(int(row["id"]))
    steps = json.loads(row["steps"])
    return jsonable(
        {
            "id": row["id"],
            "name": row["name"],
            "champion": row["champion"],
            "candidate": row["candidate"],
            "mode": row["mode"],
            "steps": steps,
            "step": row["step"],
            "share": row["share"],
            "arms": arms(row),
            "status": row["status"],
            "key": row["key"],
            "every_s": row["every_s"],
            "min_requests": row["min_requests"],
            "guard_rules": json.loads(row["guards"]),
            "guards": guards_table,
            "requests": requests,
            "evaluated_at": _epoch(evaluated_at),
            "evaluation_problem": problem,
            "created_at": _epoch(row["created_at"]),
            "updated_at": _epoch(row["updated_at"]),
            "started_by": row["user_name"],
            "reason": row["reason"],
            "alert_id": row["alert_id"],
        }
    )


def rollouts(model: str | None = None, status: str | None = "active") -> list[dict[str, Any]]:
    """Rollouts, newest first: ``status="active"`` (running or paused, the default), one
    status, or None for all."""
    from ..registry._context import current_store
    from ..registry._names import model_name

    rows = current_store().rollouts.list(None if model is None else model_name(model))
    if status == "active":
        rows = [r for r in rows if r["status"] in ACTIVE]
    elif status is not None:
        rows = [r for r in rows if r["status"] == status]
    return [rollout_view(r) for r in reversed(rows)]


def abort_rollout(rollout_id: int, reason: str) -> dict[str, Any]:
    """Abort a running or paused rollout as the acting user (recorded in its events, its
    reason and the audit chain); 409 when it already ended."""
    from ..errors import RolloutNotFound
    from ..registry._context import current_store
    from ..serving.rollouts import get_rollout

    if not 0 < rollout_id < 2**63 or current_store().rollouts.get(rollout_id) is None:
        raise RolloutNotFound(f"no rollout with id {rollout_id}")
    handle = get_rollout(rollout_id)
    row = current_store().rollouts.get(rollout_id)
    if row["status"] not in ACTIVE:
        raise RolloutConflict(f"rollout {rollout_id} is already {row['status']}")
    try:
        handle.abort(reason=reason)
    except ServingError as exc:  # it ended or moved between the read and the abort
        raise RolloutConflict(str(exc)) from None
    return rollout_view(current_store().rollouts.get(rollout_id), evaluate=False)


def servers() -> list[dict[str, Any]]:
    """The model servers seen, oldest first: id, status (``live``/``gone``), url, host, pid,
    and per served name its ref, version, rollout arm and share."""
    from ..serving.presence import seen

    out = []
    for server in seen():
        out.append(
            jsonable(
                {
                    "id": server["id"],
                    "status": server["status"],
                    "url": server["url"],
                    "host": server["host"],
                    "pid": server["pid"],
                    "started_at": _epoch(server["started_at"]),
                    "last_seen": _epoch(server["last_seen"]),
                    "heartbeat_s": server["heartbeat_s"],
                    "models": [{"name": name, **entry} for name, entry in server["models"].items()],
                }
            )
        )
    return out
