"""JSON views of runs, models and drift reports for the REST API.

Each function calls the capability's public Python API and returns plain JSON-able data
(no NaN, no pandas types), so the handlers only deal with HTTP.
"""

from __future__ import annotations

import datetime as dt
import math
import shlex
from typing import Any

from ..errors import ModelNotFound, MonitoringError, NbmlopsError

MAX_PAGE = 500


def jsonable(value: Any) -> Any:
    """``value`` with NaN/inf as None, timestamps as ISO strings, numpy scalars as Python."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return jsonable(item())
    isoformat = getattr(value, "isoformat", None)  # pandas Timestamp
    if callable(isoformat):
        return isoformat()
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _records(frame) -> list[dict[str, Any]]:
    return [jsonable(row) for row in frame.to_dict(orient="records")]


def _epoch(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat()


# -- runs -------------------------------------------------------------------------------------


def runs_page(
    experiment: str | None = None,
    filter: str | None = None,  # noqa: A002 - the name runs() uses
    order_by: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> dict[str, Any]:
    """One page of ``nbmlops.runs(experiment, filter, order_by)`` with the total count."""
    from ..errors import InvalidFilter
    from ..tracking.query import runs_page as query_page

    if not 1 <= limit <= MAX_PAGE:
        raise InvalidFilter(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    order = [term.strip() for term in order_by.split(",") if term.strip()] if order_by else None
    page = query_page(experiment, filter or None, order, offset, limit)
    return {
        "runs": _records(page.frame),
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
        "columns": page.columns,
    }


def track_cell(name: str | None, experiment: str | None, code: str | None) -> str | None:
    """The ``%%track`` cell that records ``code`` again as a run of the same name and
    experiment; None when the run has no recorded code."""
    if code is None:
        return None
    line = "%%track"
    if name:
        line += f" --name {shlex.quote(name)}"
    if experiment:
        line += f" --experiment {shlex.quote(experiment)}"
    return f"{line}\n{code.rstrip()}\n"


def run_detail(run_id: str) -> dict[str, Any]:
    """Everything the run view shows: record, params, metrics and their history, code,
    artifacts, data inputs/outputs and the ``%%track`` cell to insert."""
    from ..tracking import get_run

    run = get_run(run_id)
    info = run.info
    details = run._details()
    history: dict[str, list[dict[str, Any]]] = {}
    for row in run.metric_history().itertuples(index=False):
        history.setdefault(row.key, []).append(
            {"step": jsonable(row.step), "value": jsonable(row.value)}
        )
    return jsonable(
        {
            "run_id": run.run_id,
            "name": info["name"],
            "experiment": info["experiment"],
            "status": info["status"],
            "start_time": _epoch(info["start_time"]),
            "end_time": _epoch(info["end_time"]),
            "duration_s": run.duration_s,
            "parent_run_id": info["parent_run_id"],
            "params": details["params"],
            "metrics": run.metrics,
            "tags": details["tags"],
            "history": history,
            "code": info["code"],
            "error": info["error"],
            "git": run.git,
            "artifacts": [
                {"name": a["name"], "size": a["size"], "media_type": a["media_type"]}
                for a in details["artifacts"]
            ],
            "inputs": run.inputs,
            "outputs": run.outputs,
            "cell": track_cell(info["name"], info["experiment"], info["code"]),
        }
    )


def experiments() -> list[dict[str, Any]]:
    from ..tracking import experiments as list_experiments

    return _records(list_experiments())


# -- models -----------------------------------------------------------------------------------


def models() -> list[dict[str, Any]]:
    from ..registry import models as list_models

    return _records(list_models())


def model_detail(name: str) -> dict[str, Any]:
    """A model's versions (stage, aliases, metrics), its transition history, the gates of its
    last gated promotion (``last_gates``, offered again by the promote dialog) and the version
    a rollback would restore (``rollback_to``, None when there is nothing to roll back to)."""
    from ..registry import model_history, model_versions
    from ..registry._names import model_name
    from ..store import get_store

    name = model_name(name)
    versions = model_versions(name)
    if versions.empty:
        raise ModelNotFound(f"no registered model named {name!r}; list them with nbmlops.models()")
    records = _records(versions)
    for record in records:
        aliases = record.get("aliases") or ""
        record["aliases"] = [a for a in aliases.split(", ") if a]
        record["metrics"] = {
            key.removeprefix("metrics."): record.pop(key)
            for key in list(record)
            if key.startswith("metrics.")
        }
    history = model_history(name).sort_values("at", ascending=False, kind="stable")
    store = get_store().models
    return {
        "name": name,
        "versions": records,
        "history": _records(history),
        "production_version": jsonable(store.production_version(name)),
        "rollback_to": store.rollback_target(name),
        "last_gates": store.last_gates(name) or [],
    }


def version_view(mv) -> dict[str, Any]:
    return jsonable(
        {"name": mv.name, "version": mv.version, "stage": mv.stage, "aliases": mv.aliases}
    )


def model_card(name: str, version: int) -> dict[str, Any]:
    from ..registry import model_card as card_of

    card = card_of(name, version)
    return {
        "name": card.version.name,
        "version": card.version.version,
        "markdown": card.to_markdown(),
        "html": card.to_html(),
    }


def promote(
    name: str, version: int, to: str, reason: str, gates: list[str] | None
) -> dict[str, Any]:
    """The promoted version, or under a policy ``{"request": …}``, the pending request."""
    from ..registry import PromotionRequest, get_model
    from ..registry import promote as promote_version

    done = promote_version(name, version, to=to, reason=reason, gates=gates)
    if isinstance(done, PromotionRequest):
        # The version as it still is (nothing moved), and the request that waits for approval.
        return {**version_view(get_model(name, version)), "request": request_view(done.info)}
    return version_view(done)


def request_view(row: dict[str, Any]) -> dict[str, Any]:
    """One promotion request as JSON."""
    return jsonable(
        {
            "id": row["id"],
            "name": row["name"],
            "version": row["version"],
            "to_stage": row["to_stage"],
            "status": row["status"],
            "approvals_needed": row["approvals_needed"],
            "separate_approver": bool(row["separate_approver"]),
            "approvals": [d["user_name"] for d in row["decisions"] if d["decision"] == "approve"],
            "decisions": [
                {
                    "user": d["user_name"],
                    "decision": d["decision"],
                    "at": _epoch(d["at"]),
                    "reason": d["reason"],
                }
                for d in row["decisions"]
            ],
            "requested_by": row["requested_by"],
            "requested_at": _epoch(row["requested_at"]),
            "reason": row["reason"],
            "champion_version": row["champion_version"],
            "gates": row["gate_table"],
            "outcome": row["outcome"],
        }
    )


def requests(model: str | None, status: str | None) -> list[dict[str, Any]]:
    from ..registry._context import current_store
    from ..registry._names import model_name

    rows = current_store().governance.requests(None if model is None else model_name(model), status)
    return [request_view(r) for r in rows]


def decide(request_id: int, decision: str, reason: str | None) -> dict[str, Any]:
    from ..registry import approve, reject

    done = (approve if decision == "approve" else reject)(request_id, reason)
    return request_view(done.info)


def policy(name: str) -> dict[str, Any]:
    from ..registry import model_policy

    return jsonable({"name": name, "policy": model_policy(name)})


def rollback(name: str, reason: str) -> dict[str, Any]:
    from ..registry import rollback as rollback_model

    return version_view(rollback_model(name, reason=reason))


def delete_version(name: str, version: int, reason: str) -> dict[str, Any]:
    """Delete ``version`` of ``name`` (refused for one holding production or an alias)."""
    from ..registry import delete_model_version

    deleted = delete_model_version(name, version, reason=reason)
    return {"name": deleted.name, "version": deleted.version, "deleted": True}


# -- drift reports ----------------------------------------------------------------------------


def reports(model: str | None = None) -> list[dict[str, Any]]:
    from ..monitoring import drift_reports

    return _records(drift_reports(model))


class ReportNotFound(MonitoringError, KeyError):
    """No saved drift report has that id (the API answers 404)."""


def report_html(report_id: str) -> str:
    from ..monitoring.saved import drift_report_html
    from ..store import get_store

    try:
        get_store().monitoring.report(report_id)
    except MonitoringError as exc:
        raise ReportNotFound(str(exc)) from None
    return drift_report_html(report_id)


def status_of(exc: NbmlopsError) -> int:
    """The HTTP status of an nbmlops error: 404 for a run, model, version, report or artifact
    that does not exist (the errors that are also ``KeyError``/``FileNotFoundError``), 409 for
    a change the model's state refuses (a failing gate, a refused transition or deletion),
    400 for anything else the request got wrong (a bad filter, an ambiguous id prefix)."""
    from ..errors import AmbiguousRunId, GateFailed, InvalidTransition

    status = getattr(exc, "http_status", None)  # an error of the API's own says its status
    if isinstance(status, int):
        return status
    if isinstance(exc, AmbiguousRunId):
        return 400
    if isinstance(exc, GateFailed | InvalidTransition):
        return 409
    if isinstance(exc, KeyError | FileNotFoundError):
        return 404
    return 400


def error_body(exc: NbmlopsError) -> dict[str, Any]:
    """The JSON of an error answer: ``{"error", "message"}``, and for a failing gate the gate
    table as ``gates: [{gate, value, threshold, passed, detail}]``."""
    from ..errors import GateFailed

    body: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, GateFailed):
        body["subject"] = exc.subject
        body["gates"] = _records(exc.table)
    return body
