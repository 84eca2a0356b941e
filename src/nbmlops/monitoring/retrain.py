"""Retraining after an alert, with champion/challenger.

The monitor's ``pipeline.yaml`` runs with the alert's window as parameters (``model_name``,
``window_start``, ``window_end``, ``holdout``, ``monitor`` — each passed to the notebooks that
define it in their ``parameters`` cell) and registers a new version: the challenger. Champion and
challenger are then evaluated (:func:`nbmlops.evaluate`) on the same rows: the window's labelled
rows held out by id (``prediction_log(..., split="holdout")``), which the pipeline's
``split="train"`` never sees. The promotion gates (default: the challenger's F1 — RMSE for
regression — at least the champion's) decide:

- gates pass and ``auto_promote=True``: the challenger goes to production (``promoted``);
- gates pass and ``auto_promote=False``: it waits in ``staging`` for a person (``awaiting``),
  which the Models panel shows;
- gates fail: it stays in ``staging`` (``staged``) and the champion keeps serving.

The gate table, both evaluations and the pipeline run are kept on the alert.
"""

from __future__ import annotations

import json
import traceback
from typing import TYPE_CHECKING, Any

from ..config import get_settings
from ..errors import GateFailed, NbmlopsError, RetrainError
from ..store import get_store

if TYPE_CHECKING:
    from ._definition import MonitorDefinition

PARAMETERS = ("model_name", "window_start", "window_end", "holdout", "monitor")
CLASSIFICATION_GATES = ["metrics.f1 >= champion.metrics.f1"]
REGRESSION_GATES = ["metrics.rmse <= champion.metrics.rmse"]


def _iso(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat()


def _pipeline_parameters(m: MonitorDefinition, start: float, end: float) -> dict[str, Any]:
    from ..pipelines.cache import notebook_parameter_names
    from ..pipelines.dag import load

    pipeline = load(m.retrain)
    defined: set[str] = set()
    for step in pipeline.steps.values():
        defined |= notebook_parameter_names(pipeline.resolve(step.notebook)) or set()
    offered = {
        "model_name": m.model_name,
        "window_start": _iso(start),
        "window_end": _iso(end),
        "holdout": m.holdout,
        "monitor": m.name,
    }
    return {**{k: val for k, val in offered.items() if k in defined}, **m.parameters}


def _run_pipeline(m: MonitorDefinition, start: float, end: float):
    from ..pipelines.dag import run_pipeline

    return run_pipeline(
        m.retrain,
        parameters=_pipeline_parameters(m, start, end),
        force=True,  # the data comes from the prediction log, which the cache cannot see
        jobs=1,
        progress=False,
        raise_on_failure=False,
    )


def _challenger(store, name: str, before: int) -> int:
    versions = [r["version"] for r in store.models.list_versions(name) if r["version"] > before]
    if not versions:
        raise RetrainError(
            f"the retraining pipeline registered no new version of {name!r}; end it with "
            f"nbmlops.register_model(model, {name!r}, reference=X_train)"
        )
    return max(versions)


def _records(frame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def champion_vs_challenger(
    m: MonitorDefinition, champion: int, challenger: int, start: float, end: float
) -> dict[str, Any]:
    """Evaluate both versions on the window's held-out labelled rows and check the gates."""
    from ..predictions.log import LABEL, inputs_of, prediction_log
    from ..registry import ModelVersion, evaluate
    from ..registry.fairness import fairness_columns
    from ..registry.lifecycle import check_gates

    store = get_store(get_settings())
    held = prediction_log(
        m.model_name,
        start + 1e-6,
        end + 1e-6,
        labelled=True,
        split="holdout",
        holdout=m.holdout,
    )
    if held.empty:
        raise RetrainError(
            f"no labelled held-out rows between {_iso(start)} and {_iso(end)} to compare "
            "champion and challenger on; log labels with nbmlops.log_labels first"
        )
    X, y = held[inputs_of(held)], held[LABEL].to_numpy()
    # Fairness gates compare groups of logged input columns: evaluate by those groups too.
    groups = [c for c in fairness_columns(m.gates or []) if c in X.columns] or None
    scores = {}
    for role, version in (("champion", champion), ("challenger", challenger)):
        mv = ModelVersion(store, m.model_name, version)
        scores[role] = evaluate(mv, X, y, sensitive_features=groups)
    gates = m.gates or (
        CLASSIFICATION_GATES if "f1" in scores["champion"].columns else REGRESSION_GATES
    )
    table, _champion = check_gates(m.model_name, challenger, gates)
    return {
        "holdout_rows": int(len(held)),
        "gates": gates,
        "gate_table": _records(table),
        "passed": bool(table["passed"].all()),
        "evaluation": {role: _records(frame) for role, frame in scores.items()},
    }


def retrain_after_alert(
    m: MonitorDefinition, alert_id: int, start: float, end: float, champion: int | None
) -> dict[str, Any]:
    """Run the monitor's pipeline, compare, decide; record and return the outcome."""
    from ..registry import model_policy, promote
    from ..registry.approvals import request_promotion

    store = get_store(get_settings())
    store.loop.update_alert(alert_id, retrain_status="running")
    outcome: dict[str, Any] = {"pipeline": m.retrain, "champion_version": champion}
    status, challenger = "failed", None
    try:
        before = max((r["version"] for r in store.models.list_versions(m.model_name)), default=0)
        result = _run_pipeline(m, start, end)
        outcome.update(pipeline_run_id=result.run_id, pipeline_status=result.status)
        if not result.ok:
            raise RetrainError(f"the retraining pipeline failed: steps {result.failed} failed")
        challenger = _challenger(store, m.model_name, before)
        outcome["challenger_version"] = challenger
        champion = store.models.production_version(m.model_name)
        outcome["champion_version"] = champion
        if champion is None:
            raise RetrainError(f"{m.model_name!r} has no production version to challenge")
        outcome.update(champion_vs_challenger(m, champion, challenger, start, end))
        reason = (
            f"monitor {m.name}, alert {alert_id}: challenger v{challenger} vs champion "
            f"v{champion} on {outcome['holdout_rows']} held-out rows of the alert window"
        )
        # A policy asking for approval of production turns auto_promote into a request.
        approval = model_policy(m.model_name).get("production", {}).get("approvals", 0) > 0
        if outcome["passed"] and m.auto_promote and not approval:
            try:
                promote(m.model_name, challenger, "production", reason, gates=outcome["gates"])
                status = "promoted"
            except GateFailed as exc:  # the champion changed meanwhile and is better
                outcome["gate_table"] = _records(exc.table)
                outcome["passed"] = False
        if status != "promoted":
            status = "awaiting" if outcome["passed"] else "staged"
            why = (
                "gates passed, awaiting a person's decision"
                if outcome["passed"]
                else "gates failed"
            )
            promote(m.model_name, challenger, "staging", f"{reason}: {why}")
            if outcome["passed"]:
                # The decision is a promotion request: approve it to put the challenger in
                # production (its gates are checked again then).
                try:
                    request = request_promotion(
                        m.model_name, challenger, "production", reason, gates=outcome["gates"]
                    )
                    outcome["request_id"] = request.id
                except GateFailed as exc:  # the champion changed meanwhile and is better
                    outcome["gate_table"] = _records(exc.table)
                    outcome["passed"] = False
                    status = "staged"
        outcome["message"] = {
            "promoted": f"v{challenger} beat v{champion} and is now in production",
            "awaiting": f"v{challenger} passed the gates against v{champion}; it waits in "
            "staging for a person's decision: approve or reject promotion request "
            f"{outcome.get('request_id')} (nbmlops.approve, nbmlops models approve)",
            "staged": f"v{challenger} did not pass the gates against v{champion}; it stays in "
            f"staging and v{champion} keeps serving",
        }[status]
    except NbmlopsError as exc:
        outcome["message"] = f"failed: {exc}"
        outcome["error"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - recorded on the alert, then raised
        outcome["message"] = f"failed: {type(exc).__name__}: {exc}"
        outcome["error"] = traceback.format_exc()
        store.loop.update_alert(
            alert_id,
            retrain_status="failed",
            challenger_version=challenger,
            retrain=json.dumps(outcome, default=str),
        )
        raise
    outcome["status"] = status
    store.loop.update_alert(
        alert_id,
        retrain_status=status,
        challenger_version=challenger,
        retrain=json.dumps(outcome, default=str),
    )
    return outcome


def pending_challengers(name: str) -> dict[int, dict[str, Any]]:
    """Challengers of ``name`` still in staging after retraining, by version: the alert, its
    status (``awaiting`` a decision or ``staged`` after failed gates) and the gate table."""
    store = get_store(get_settings())
    found: dict[int, dict[str, Any]] = {}
    for row in store.loop.alerts(model_name=name):
        version = row["challenger_version"]
        if row["retrain_status"] not in ("awaiting", "staged") or version is None:
            continue
        try:
            stage = store.models.get_version(name, version)["stage"]
        except NbmlopsError:
            continue
        if stage == "staging":
            retrain = json.loads(row["retrain"] or "{}")
            found[version] = {
                "alert_id": row["id"],
                "monitor": row["monitor"],
                "status": row["retrain_status"],
                "champion_version": retrain.get("champion_version"),
                "gate_table": retrain.get("gate_table", []),
                "message": retrain.get("message", ""),
            }
    return found
