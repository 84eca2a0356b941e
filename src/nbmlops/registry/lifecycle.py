"""Moving versions through stages: ``promote``, ``rollback``, aliases and their history.

Stages are ``staging``, ``production`` and ``archived``. A name has at most one production
version, and once it has one it always has one: promoting a version archives the previous
production version in the same transaction, and ``rollback`` swaps back in one call. Every
change is kept with who made it, when and why (``model_history``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import GateFailed, InvalidModel
from ..store.models import ChampionChanged
from ._names import alias_name, model_name, stage_name, version_number
from .gates import evaluate_gates, validate_gates
from .versions import ModelVersion, _store, _text, _user

if TYPE_CHECKING:
    import pandas as pd

_MAX_GATE_RETRIES = 20


def _reason(reason: str | None) -> str | None:
    return None if reason is None else _text("reason", reason)


def check_gates(name: str, version: int, gates: list[str]) -> tuple[pd.DataFrame, int | None]:
    """Evaluate ``gates`` for ``name`` v``version`` against the current production version.

    Returns the gate table and the champion it was checked against.
    """
    store = _store()
    candidate = ModelVersion(store, name, version)
    champion_version = store.models.production_version(name)
    champion = None
    if champion_version is not None and champion_version != version:
        champion = ModelVersion(store, name, champion_version).metrics
    table = evaluate_gates(
        gates,
        candidate.metrics,
        champion,
        f"version {version}",
        f"production version {champion_version}",
    )
    return table, champion_version


def promote(
    name: str,
    version: int,
    to: str = "production",
    reason: str | None = None,
    gates: list[str] | None = None,
) -> ModelVersion:
    """Move ``version`` of ``name`` to the stage ``to`` (``staging``, ``production``,
    ``archived``), after checking ``gates``.

    Promoting to production archives the previous production version in the same
    transaction. A failing gate raises :class:`GateFailed` with the table of gates and
    changes nothing.

    >>> import nbmlops
    >>> nbmlops.promote("churn", 3, reason="beats v2 on March data",
    ...                 gates=["metrics.f1 >= 0.85", "metrics.f1 >= champion.metrics.f1"])  # doctest: +SKIP
    """
    name = model_name(name)
    version = version_number(version)
    to = stage_name(to)
    reason = _reason(reason)
    gates = validate_gates(gates)
    store = _store()
    ModelVersion(store, name, version)._row()  # ModelNotFound before anything else
    if not gates:
        store.models.transition(name, version, to, _user(), reason)
        return ModelVersion(store, name, version)
    for _attempt in range(_MAX_GATE_RETRIES):
        table, champion = check_gates(name, version, gates)
        if not table["passed"].all():
            raise GateFailed(f"promoting {name} v{version} to {to}", table)
        try:
            store.models.transition(name, version, to, _user(), reason, expected_champion=champion)
        except ChampionChanged:
            continue  # another process promoted meanwhile: check against the new champion
        return ModelVersion(store, name, version)
    raise InvalidModel(
        f"the production version of {name!r} kept changing while its gates were checked; try again"
    )


def rollback(name: str, reason: str | None = None) -> ModelVersion:
    """Put back the production version that the current one replaced; return it.

    Repeated rollbacks walk further back through the versions that were in production.
    """
    name = model_name(name)
    store = _store()
    _current, restored = store.models.rollback(name, _user(), _reason(reason))
    return ModelVersion(store, name, restored)


def set_alias(name: str, alias: str, version: int, reason: str | None = None) -> ModelVersion:
    """Point the free-form ``alias`` (``champion``, ``shadow`` …) of ``name`` at ``version``."""
    name, alias, version = model_name(name), alias_name(alias), version_number(version)
    store = _store()
    store.models.set_alias(name, alias, version, _user(), _reason(reason))
    return ModelVersion(store, name, version)


def delete_alias(name: str, alias: str, reason: str | None = None) -> None:
    """Remove ``alias`` from ``name``."""
    name, alias = model_name(name), alias_name(alias)
    _store().models.delete_alias(name, alias, _user(), _reason(reason))


def delete_model_version(name: str, version: int, *, reason: str | None = None) -> ModelVersion:
    """Delete ``version`` of ``name``; return it (its ``deleted`` is now True).

    Refused with :class:`InvalidTransition` for the production version and for a version an
    alias points at: promote another version or move the alias first. The deletion is kept
    in :func:`model_history` (who, when, ``reason``), and its number is never given to a new
    version. The model file is removed unless another version or a run holds the same content;
    ``models:/NAME/VERSION`` then raises :class:`ModelNotFound` saying it was deleted.

    >>> import nbmlops
    >>> nbmlops.delete_model_version("churn", 2, reason="registered a DataFrame by mistake")  # doctest: +SKIP
    """
    name, version = model_name(name), version_number(version)
    reason = _reason(reason)
    store = _store()
    _row, orphans = store.models.delete_version(name, version, _user(), reason)
    for digest in orphans:
        # Checked again after the commit: a version registered meanwhile may share the file.
        if not store.models.blob_in_use(digest):
            store.artifacts.remove(digest)
    return ModelVersion(store, name, version)


def model_history(name: str) -> pd.DataFrame:
    """Every transition of ``name``: ``at, version, action, from_stage, to_stage, user, reason``."""
    import pandas as pd

    rows = _store().models.history(model_name(name))
    frame = pd.DataFrame(
        rows,
        columns=[
            "id",
            "name",
            "version",
            "action",
            "from_stage",
            "to_stage",
            "user_name",
            "at",
            "reason",
        ],
    ).rename(columns={"user_name": "user"})
    frame["at"] = pd.to_datetime(frame["at"].astype(float), unit="s", utc=True)
    return frame[["at", "version", "action", "from_stage", "to_stage", "user", "reason"]]
