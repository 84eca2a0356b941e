"""Rollouts held in the store: shadow, canary and A/B exposure of a candidate version, step by
step, guarded, with one-command abort.

``nbmlops.rollout("churn", candidate=4, mode="canary", steps=[5, 20, 50, 100], every="30m",
key="customer_id", guards=["error_rate < 0.01", "latency.p99_ms < 50"])`` writes one row;
every server serving ``churn`` reads it within its poll interval and splits traffic by a
stable hash of ``key``. :func:`tick` (run by every server every ``evaluate_every`` seconds,
and by ``nbmlops rollout advance``) evaluates the guards over the step's window: a failing
guard aborts at once (all traffic back to the champion, an alert naming the guard, its value
and the window); once ``min_requests`` candidate requests held every guard for ``every``, the
rollout moves to the next step; completing the last step promotes the candidate through
``gates`` when that step is 100 % (a blue/green switch is ``steps=[100]``).

Modes: ``shadow`` (the candidate scores a copy of every request off the response path; the
champion answers), ``canary`` (a growing share of keys), ``ab`` (a fixed split, default 50 %,
whose outcome :func:`nbmlops.ab_report` judges from the logged labels).
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from .. import _args
from ..errors import GateFailed, RolloutNotFound, ServingError
from ..registry._context import current_store, current_user
from ..registry._names import model_name, version_number
from ._plan import CANDIDATE, MODES, SHADOW, RolloutPlan
from .guards import evaluate, measure, validate_guards

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("nbmlops.serving")

DEFAULT_STEPS = {"shadow": [0], "canary": [5, 20, 50, 100], "ab": [50]}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(every: object) -> float:
    """Seconds in ``every``: a number of seconds or ``"30s"``, ``"30m"``, ``"2h"``, ``"1d"``."""
    if isinstance(every, (int, float)) and not isinstance(every, bool) and every >= 0:
        return float(every)
    match = _DURATION.fullmatch(every) if isinstance(every, str) else None
    if match is None:
        raise ServingError(
            f"every= is a duration such as '30m', '2h' or a number of seconds, got {every!r}"
        )
    return float(match[1]) * _UNITS[match[2]]


def _steps(steps: object, mode: str) -> list[float]:
    if steps is None:
        return list(DEFAULT_STEPS[mode])
    if isinstance(steps, (int, float)) and not isinstance(steps, bool):
        steps = [steps]
    if (
        not isinstance(steps, (list, tuple))
        or not steps
        or not all(
            isinstance(s, (int, float)) and not isinstance(s, bool) and 0 <= s <= 100 for s in steps
        )
    ):
        raise ServingError(
            f"steps is a list of percentages of traffic (0-100), e.g. [5, 20, 50, 100], got "
            f"{steps!r}"
        )
    if any(b < a for a, b in zip(steps, steps[1:], strict=False)):
        raise ServingError(f"steps must not go down, got {list(steps)}")
    return [float(s) for s in steps]


def _event(kind: str, detail: Any = None, **extra: Any) -> dict:
    return {
        "at": time.time(),
        "kind": kind,
        "arm": None,
        "count": None,
        "server_id": None,
        "detail": json.dumps(detail, default=str) if detail is not None else None,
        **extra,
    }


# -- starting and finding rollouts -----------------------------------------------------------


def rollout(
    name: str,
    candidate: int,
    mode: str = "canary",
    steps: list[float] | None = None,
    every: str | float = "30m",
    key: str | None = None,
    guards: list[str] | None = None,
    min_requests: int = 100,
    gates: list[str] | None = None,
) -> Rollout:
    """Start exposing version ``candidate`` of ``name`` to live traffic; return the
    :class:`Rollout`.

    ``mode`` is ``"shadow"``, ``"canary"`` or ``"ab"``; ``steps`` the candidate's share of
    keys at each step (percent; defaults: canary ``[5, 20, 50, 100]``, ab ``[50]``);
    ``every`` how long each step runs with its guards holding before the next
    (``"30m"``, ``"10s"``); ``key`` the request column whose stable hash picks the arm (sticky
    per entity; without it each request is split by its id); ``guards`` comparisons of
    ``requests``, ``error_rate``, ``latency.p50_ms``, ``latency.p99_ms``, ``agreement`` and
    ``psi.max`` with a number, judged once ``min_requests`` candidate requests are in the
    window; ``gates`` the promotion gates checked when the last step (100 %) completes.

    >>> import nbmlops
    >>> nbmlops.rollout("churn", candidate=4, mode="canary", steps=[5, 20, 100], every="30m",
    ...                 key="customer_id", guards=["error_rate < 0.01"])  # doctest: +SKIP
    """
    from ..registry.gates import validate_gates

    name = model_name(name)
    candidate = version_number(candidate)
    if mode not in MODES:
        raise ServingError(f"mode is one of {', '.join(MODES)}, got {mode!r}")
    step_list = _steps(steps, mode)
    every_s = parse_duration(every)
    if key is not None:
        _args.text(key, "rollout(key=...)")
    guard_list = validate_guards(guards)
    min_requests = _args.integer(min_requests, "rollout(min_requests=...)", low=1)
    gate_list = validate_gates(gates)
    store = current_store()
    store.models.get_version(name, candidate)  # ModelNotFound before anything is written
    champion = store.models.production_version(name)
    if champion == candidate:
        raise ServingError(
            f"version {candidate} of {name!r} is already in production: roll out another version"
        )
    now = time.time()
    row = {
        "name": name,
        "champion": champion,
        "candidate": candidate,
        "mode": mode,
        "steps": json.dumps(step_list),
        "step": 0,
        "share": 0.0 if mode == "shadow" else step_list[0],
        "every_s": every_s,
        "key": key,
        "guards": json.dumps(guard_list),
        "min_requests": min_requests,
        "gates": json.dumps(gate_list),
        "status": "running",
        "created_at": now,
        "updated_at": now,
        "step_started_at": now,
        "user_name": current_user(),
        "reason": None,
        "alert_id": None,
    }
    rollout_id = store.rollouts.create(row, _event("start", {"share": row["share"]}))
    return Rollout(rollout_id)


def get_rollout(ref: str | int) -> Rollout:
    """The rollout with id ``ref``, or the latest rollout of the model named ``ref``."""
    store = current_store()
    if isinstance(ref, int) and not isinstance(ref, bool):
        # Ids are database integers: anything outside 64 bits names no rollout.
        if not 0 < ref < 2**63 or store.rollouts.get(ref) is None:
            raise RolloutNotFound(f"no rollout with id {ref}; list them with nbmlops.rollouts()")
        return Rollout(ref)
    if isinstance(ref, str) and ref.isdigit():
        return get_rollout(int(ref))
    name = model_name(ref)
    row = store.rollouts.latest(name)
    if row is None:
        raise RolloutNotFound(
            f"{name!r} has no rollout; start one with nbmlops.rollout({name!r}, candidate=...)"
        )
    return Rollout(int(row["id"]))


def rollouts(name: str | None = None) -> pd.DataFrame:
    """Every rollout (of ``name``): id, model, versions, mode, step, share, status, reason."""
    import pandas as pd

    rows = current_store().rollouts.list(None if name is None else model_name(name))
    columns = [
        "id",
        "name",
        "champion",
        "candidate",
        "mode",
        "steps",
        "step",
        "share",
        "status",
        "created_at",
        "updated_at",
        "reason",
        "alert_id",
    ]
    frame = pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=columns)
    frame["steps"] = frame["steps"].map(json.loads)
    for column in ("created_at", "updated_at"):
        frame[column] = pd.to_datetime(frame[column].astype(float), unit="s", utc=True)
    return frame


def plans_for(names: list[str]) -> dict[str, RolloutPlan]:
    """The active rollout of each of ``names`` that has one (what servers route by)."""
    return {r["name"]: RolloutPlan.from_row(r) for r in current_store().rollouts.active(names)}


def record_errors(errors: dict[tuple[int, str], int], server_id: str) -> None:
    """Record the failed requests a server counted per rollout and arm."""
    now = time.time()
    current_store().rollouts.add_events(
        [
            {
                "rollout_id": rid,
                "at": now,
                "kind": "errors",
                "arm": arm,
                "count": n,
                "server_id": server_id,
                "detail": None,
            }
            for (rid, arm), n in errors.items()
        ]
    )


# -- evaluating and moving -------------------------------------------------------------------


def _window(row: dict, now: float) -> tuple[float, float]:
    return float(row["step_started_at"]), now


def evaluation(row: dict, now: float | None = None) -> dict:
    """The guard table of a rollout over its current window, with the request count."""
    from ..predictions.log import prediction_log
    from ..predictions.reference import load_reference

    now = time.time() if now is None else now
    start, end = _window(row, now)
    arm = SHADOW if row["mode"] == "shadow" else CANDIDATE
    store = current_store()
    errors = store.rollouts.error_counts(int(row["id"]), start).get(arm, 0)
    frame = prediction_log(row["name"], start=start)
    reference = load_reference(row["name"], int(row["candidate"]))
    values, notes = measure(frame, int(row["candidate"]), arm, errors, reference)
    guards = json.loads(row["guards"])
    return {
        "table": evaluate(guards, values, notes),
        "values": values,
        "requests": int(values.get("requests") or 0),
        "window": (start, end),
    }


def tick(
    rollout_id: int, force: bool = False, now: float | None = None, lazy: bool = False
) -> dict:
    """Evaluate the guards of a running (or paused) rollout and act: abort on a failing
    guard, move to the next step once they held long enough (``force``: now, whatever the
    time and request count). ``lazy`` (servers): skip reading the window when there is no
    guard to judge and the step has not run its time. Returns ``{"action", "evaluation"}``."""
    store = current_store()
    row = store.rollouts.get(rollout_id)
    if row is None:
        raise RolloutNotFound(f"no rollout with id {rollout_id}")
    if row["status"] not in ("running", "paused"):
        return {"action": "none", "evaluation": None}
    now = time.time() if now is None else now
    if (
        lazy
        and not force
        and not json.loads(row["guards"])
        and now - float(row["step_started_at"]) < float(row["every_s"])
    ):
        # Reading the window's prediction log costs the server CPU on its request path.
        return {"action": "waiting", "evaluation": None}
    result = evaluation(row, now)
    table = result["table"]
    enough = result["requests"] >= int(row["min_requests"])
    if (enough or force) and not table["passed"].all():
        failed = table.loc[~table["passed"]].iloc[0]
        _abort(
            row,
            f"guard {failed['gate']!r} failed: {failed['value']:.4g} over "
            f"{result['requests']} requests",
            result,
        )
        return {"action": "aborted", "evaluation": result}
    waited = now - float(row["step_started_at"]) >= float(row["every_s"])
    if row["status"] == "running" and (force or (enough and waited)):
        return {"action": _advance(row, result), "evaluation": result}
    return {"action": "waiting", "evaluation": result}


def _advance(row: dict, result: dict) -> str:
    from ..registry._transitions import promote

    store = current_store()
    steps = json.loads(row["steps"])
    step = int(row["step"])
    now = time.time()
    if step + 1 < len(steps):
        share = 0.0 if row["mode"] == "shadow" else steps[step + 1]
        moved = store.rollouts.move(
            int(row["id"]),
            step,
            row["status"],
            {"step": step + 1, "share": share, "step_started_at": now, "updated_at": now},
            _event(
                "advance",
                {
                    "step": step + 1,
                    "share": share,
                    "guards": _table_json(result["table"]),
                    "requests": result["requests"],
                },
            ),
        )
        return "advanced" if moved else "none"
    # The last step held: the candidate replaces the champion when it served all traffic.
    promoted = steps[-1] >= 100 and row["mode"] != "shadow"
    reason = f"rollout {row['id']} ({row['mode']}) completed"
    if promoted:
        gates = json.loads(row["gates"])
        try:
            promote(row["name"], int(row["candidate"]), reason=reason, gates=gates or None)
        except GateFailed as exc:
            _abort(row, f"the promotion gates failed: {exc}", result)
            return "aborted"
    store.rollouts.move(
        int(row["id"]),
        step,
        row["status"],
        {
            "status": "completed",
            "updated_at": now,
            "reason": reason + (": promoted" if promoted else ""),
        },
        _event("complete", {"promoted": promoted, "requests": result["requests"]}),
    )
    return "completed"


def _table_json(table) -> list[dict]:
    return json.loads(table.to_json(orient="records"))


def _abort(row: dict, reason: str, result: dict | None) -> bool:
    """Send all traffic back to the champion; raise an alert (once) naming why."""
    import datetime as dt

    store = current_store()
    now = time.time()
    moved = store.rollouts.move(
        int(row["id"]),
        int(row["step"]),
        row["status"],
        {"status": "aborted", "share": 0.0, "updated_at": now, "reason": reason},
        _event(
            "abort", {"reason": reason, "guards": _table_json(result["table"]) if result else None}
        ),
    )
    if not moved or result is None:
        return moved
    start, end = result["window"]

    def clock(t: float) -> str:
        return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

    summary = (
        f"rollout {row['id']} of {row['name']} v{row['candidate']} ({row['mode']}) "
        f"aborted: {reason} in the window {clock(start)} - {clock(end)} UTC"
    )
    context = {
        "rollout_id": int(row["id"]),
        "reason": reason,
        "guards": _table_json(result["table"]),
        "window": [start, end],
        "requests": result["requests"],
    }
    monitor = f"rollout:{row['name']}"
    _run_id, alert_id = store.loop.add_run(
        {
            "monitor": monitor,
            "ran_at": now,
            "window_start": start,
            "window_end": end,
            "model_name": row["name"],
            "model_version": int(row["candidate"]),
            "status": "alert",
            "rows": result["requests"],
            "labelled": 0,
            "drift_share": None,
            "report_id": None,
            "result": json.dumps(context, default=str),
        },
        {
            "monitor": monitor,
            "model_name": row["name"],
            "model_version": int(row["candidate"]),
            "summary": summary,
            "context": json.dumps(context, default=str),
            "retrain_status": "none",
            "challenger_version": None,
            "retrain": None,
        },
    )
    if alert_id is not None:
        store.rollouts.set_alert(int(row["id"]), alert_id)
    log.warning(summary)
    return True


# -- the handle ------------------------------------------------------------------------------


class Rollout:
    """One rollout: ``status()``, ``evaluate()``, ``advance()``, ``pause()``, ``resume()``,
    ``abort()``."""

    def __init__(self, rollout_id: int):
        self.id = int(rollout_id)

    def _row(self) -> dict:
        row = current_store().rollouts.get(self.id)
        if row is None:
            raise RolloutNotFound(f"no rollout with id {self.id}")
        return row

    @property
    def name(self) -> str:
        return self._row()["name"]

    @property
    def state(self) -> str:
        """``running``, ``paused``, ``aborted`` or ``completed``."""
        return self._row()["status"]

    @property
    def share(self) -> float:
        return float(self._row()["share"])

    def status(self) -> dict:
        """Everything about the rollout now: versions, step, share, guards over the window."""
        row = self._row()
        out = {
            k: row[k]
            for k in (
                "id",
                "name",
                "champion",
                "candidate",
                "mode",
                "step",
                "share",
                "status",
                "key",
                "reason",
                "alert_id",
            )
        }
        out["steps"] = json.loads(row["steps"])
        out["every_s"] = row["every_s"]
        out["guards"] = json.loads(row["guards"])
        if row["status"] in ("running", "paused"):
            result = evaluation(row)
            out["requests"] = result["requests"]
            out["evaluation"] = result["table"]
        return out

    def evaluate(self) -> dict:
        """Evaluate the guards now and act as a server would (abort, advance or wait)."""
        return tick(self.id)

    def advance(self) -> Rollout:
        """Move to the next step now (the last one completes: promotion at 100 %); a failing
        guard still aborts instead."""
        result = tick(self.id, force=True)
        if result["action"] == "none" and self.state in ("aborted", "completed"):
            raise ServingError(f"rollout {self.id} is {self.state}; start a new one")
        return self

    def pause(self) -> Rollout:
        """Hold the current split: no step advances (guards still abort)."""
        self._set("running", "paused", "pause")
        return self

    def resume(self) -> Rollout:
        self._set("paused", "running", "resume")
        return self

    def abort(self, reason: str | None = None) -> Rollout:
        """All traffic back to the champion now (the one-command rollback)."""
        row = self._row()
        if row["status"] not in ("running", "paused"):
            raise ServingError(f"rollout {self.id} is already {row['status']}")
        text = f"aborted by {current_user() or 'a user'}" + (f": {reason}" if reason else "")
        if not _abort(row, text, None):
            raise ServingError(f"rollout {self.id} changed meanwhile; look at it again")
        return self

    def _set(self, before: str, after: str, kind: str) -> None:
        row = self._row()
        if row["status"] != before:
            raise ServingError(f"rollout {self.id} is {row['status']}, not {before}")
        if not current_store().rollouts.move(
            self.id,
            int(row["step"]),
            before,
            {"status": after, "updated_at": time.time()},
            _event(kind),
        ):
            raise ServingError(f"rollout {self.id} changed meanwhile; look at it again")

    def events(self) -> pd.DataFrame:
        import pandas as pd

        rows = current_store().rollouts.events(self.id)
        frame = pd.DataFrame(
            rows, columns=["id", "rollout_id", "at", "kind", "arm", "count", "server_id", "detail"]
        )
        frame["at"] = pd.to_datetime(frame["at"].astype(float), unit="s", utc=True)
        return frame

    def headline(self) -> str:
        row = self._row()
        steps = json.loads(row["steps"])
        where = (
            f"step {int(row['step']) + 1}/{len(steps)}, {row['share']:g}% to the candidate"
            if row["mode"] != "shadow"
            else "shadow"
        )
        text = (
            f"rollout {self.id}: {row['name']} v{row['candidate']} vs v{row['champion']} "
            f"({row['mode']}, {where}) [{row['status']}]"
        )
        return text + (f" - {row['reason']}" if row["reason"] else "")

    def __repr__(self) -> str:
        return f"<Rollout {self.headline()}>"

    def _repr_html_(self) -> str:
        return f'<div class="nbmlops-rollout"><code>{html.escape(self.headline())}</code></div>'
