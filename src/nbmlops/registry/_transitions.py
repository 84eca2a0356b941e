"""Stage changes in the store, by model name and version number: gated promotion (with retries
while other processes promote), rollback, aliases, deletion. The public functions of
:mod:`.lifecycle` and the ``ModelVersion`` shortcuts call these and hand back a
``ModelVersion``; these return the ``(name, version)`` they changed."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..errors import ConcurrentUpdate, GateFailed
from ..store.backoff import backoff_delays
from ..store.models import ChampionChanged
from ._context import check_text, current_store, current_user
from ._names import alias_name, model_name, stage_name, version_number
from .gates import evaluate_gates, mentions_latency, validate_gates
from .latency import measure as measure_latency
from .record import VersionRecord

if TYPE_CHECKING:
    import pandas as pd

# Gated promotions re-check their gates when the champion changed meanwhile: this many tries,
# with waits of backoff_delays between them (about 8 s in all), then ConcurrentUpdate.
_MAX_GATE_TRIES = 20


def _reason(reason: str | None) -> str | None:
    return None if reason is None else check_text("reason", reason)


def gate_table(
    name: str, version: int, gates: list[str], champion_version: int | None
) -> pd.DataFrame:
    """Evaluate ``gates`` for ``name`` v``version`` against production version
    ``champion_version`` (None: no champion yet)."""
    store = current_store()
    candidate = VersionRecord(store, name, version)
    champion = None
    if champion_version is not None and champion_version != version:
        champion = VersionRecord(store, name, champion_version).metrics
    candidate_latency = champion_latency = None
    if mentions_latency(gates):
        candidate_latency = measure_latency(name, version)
    if champion is not None and mentions_latency(gates, champion=True):
        champion_latency = measure_latency(name, champion_version)
    return evaluate_gates(
        gates,
        candidate.metrics,
        champion,
        f"version {version}",
        f"production version {champion_version}",
        store.models.version_metrics(name, version),
        candidate_latency,
        champion_latency,
    )


def check_gates(name: str, version: int, gates: list[str]) -> tuple[pd.DataFrame, int | None]:
    """Evaluate ``gates`` for ``name`` v``version`` against the current production version.

    Returns the gate table and the champion it was checked against.
    """
    champion_version = current_store().models.production_version(name)
    return gate_table(name, version, gates, champion_version), champion_version


def table_records(table: pd.DataFrame) -> list[dict]:
    """A gate table as JSON-safe records (NaN as None), as requests and the audit keep it."""
    out = []
    for row in table.to_dict("records"):
        out.append(
            {
                k: (None if isinstance(v, float) and v != v else (bool(v) if k == "passed" else v))
                for k, v in row.items()
            }
        )
    return out


def promote(
    name: str,
    version: int,
    to: str = "production",
    reason: str | None = None,
    gates: list[str] | None = None,
    request: bool = False,
) -> tuple[str, int, int | None]:
    """Move ``version`` of ``name`` to the stage ``to`` once ``gates`` pass against the
    current champion, retrying while other processes promote (see :func:`.lifecycle.promote`).

    Under a policy that asks for approvals for ``to`` (or with ``request=True``), nothing
    moves: a pending request is opened instead and its id is the third item returned (else
    None).
    """
    name = model_name(name)
    version = version_number(version)
    to = stage_name(to)
    reason = _reason(reason)
    gates = validate_gates(gates)
    store = current_store()
    record = VersionRecord(store, name, version)
    stage = record._row()["stage"]  # ModelNotFound before anything else
    rule = (store.governance.policy(name) or {}).get(to)
    if rule:
        gates = [*rule["gates"], *(g for g in gates if g not in rule["gates"])]
    if request and (not rule or rule["approvals"] == 0):
        # A request asked for without a policy that needs one: one approval, anyone's.
        rule = {"approvals": 1, "separate_approver": False, "gates": (rule or {}).get("gates", [])}
    needs_approval = bool(rule) and rule["approvals"] > 0 and stage != to
    if not gates and not needs_approval:
        store.models.transition(name, version, to, current_user(), reason)
        return name, version, None
    waits = backoff_delays(_MAX_GATE_TRIES - 1)
    for _attempt in range(_MAX_GATE_TRIES):
        if gates:
            table, champion = check_gates(name, version, gates)
            if not table["passed"].all():
                raise GateFailed(f"promoting {name} v{version} to {to}", table)
        else:
            table, champion = None, store.models.production_version(name)
        try:
            if needs_approval:
                request = store.governance.create_request(
                    name,
                    version,
                    to,
                    rule,
                    gates,
                    [] if table is None else table_records(table),
                    champion,
                    current_user(),
                    reason,
                )
                return name, version, request
            store.models.transition(
                name, version, to, current_user(), reason, expected_champion=champion, gates=gates
            )
        except ChampionChanged:
            # Another process promoted meanwhile: wait (not in lockstep with it), then check
            # the gates against the new champion.
            wait = next(waits, None)
            if wait is None:
                break
            time.sleep(wait)
            continue
        return name, version, None
    raise ConcurrentUpdate(
        f"the production version of {name!r} changed {_MAX_GATE_TRIES} times while the gates "
        f"of version {version} were checked, so nothing was promoted; other processes are "
        "promoting this model right now: try again once they are done"
    )


def rollback(name: str, reason: str | None = None) -> tuple[str, int]:
    """Put back the production version that the current one replaced; return its key."""
    name = model_name(name)
    store = current_store()
    _current, restored = store.models.rollback(name, current_user(), _reason(reason))
    return name, restored


def set_alias(name: str, alias: str, version: int, reason: str | None = None) -> tuple[str, int]:
    """Point the free-form ``alias`` of ``name`` at ``version``."""
    name, alias, version = model_name(name), alias_name(alias), version_number(version)
    store = current_store()
    store.models.set_alias(name, alias, version, current_user(), _reason(reason))
    return name, version


def delete_alias(name: str, alias: str, reason: str | None = None) -> None:
    """Remove ``alias`` from ``name``."""
    name, alias = model_name(name), alias_name(alias)
    current_store().models.delete_alias(name, alias, current_user(), _reason(reason))


def delete_version(name: str, version: int, reason: str | None = None) -> tuple[str, int]:
    """Delete ``version`` of ``name`` and its model file unless something else holds it
    (see :func:`.lifecycle.delete_model_version`)."""
    name, version = model_name(name), version_number(version)
    reason = _reason(reason)
    store = current_store()
    _row, orphans = store.models.delete_version(name, version, current_user(), reason)
    for digest in orphans:
        # Checked again after the commit: a version registered meanwhile may share the file.
        if not store.models.blob_in_use(digest):
            store.artifacts.remove(digest)
    return name, version
