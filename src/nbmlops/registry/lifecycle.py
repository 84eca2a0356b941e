"""Moving versions through stages: ``promote``, ``rollback``, aliases and their history.

Stages are ``staging``, ``production`` and ``archived``. A name has at most one production
version, and once it has one it always has one: promoting a version archives the previous
production version in the same transaction, and ``rollback`` swaps back in one call. Every
change is kept with who made it, when and why (``model_history``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _transitions
from ._context import current_store
from ._names import model_name
from ._transitions import check_gates
from .approvals import PromotionRequest
from .versions import ModelVersion

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "check_gates",
    "delete_alias",
    "delete_model_version",
    "model_history",
    "promote",
    "rollback",
    "set_alias",
]


def promote(
    name: str,
    version: int,
    to: str = "production",
    reason: str | None = None,
    gates: list[str] | None = None,
) -> ModelVersion | PromotionRequest:
    """Move ``version`` of ``name`` to the stage ``to`` (``staging``, ``production``,
    ``archived``), after checking ``gates``.

    Under a policy (:func:`nbmlops.set_policy`) whose rule for ``to`` asks for approvals,
    nothing moves: the policy's gates are checked and a pending :class:`PromotionRequest` is
    returned, which :func:`nbmlops.approve` completes.

    Promoting to production archives the previous production version in the same
    transaction. A failing gate raises :class:`GateFailed` with the table of gates and
    changes nothing. When other processes keep changing the production version while the
    gates are checked, the check is retried with growing, jittered waits; if it never settles
    :class:`~nbmlops.errors.ConcurrentUpdate` is raised and nothing is changed.

    >>> import nbmlops
    >>> nbmlops.promote("churn", 3, reason="beats v2 on March data",
    ...                 gates=["metrics.f1 >= 0.85", "metrics.f1 >= champion.metrics.f1"])  # doctest: +SKIP
    """
    name, version, request = _transitions.promote(name, version, to=to, reason=reason, gates=gates)
    if request is not None:
        return PromotionRequest(request)
    return ModelVersion(current_store(), name, version)


def rollback(name: str, reason: str | None = None) -> ModelVersion:
    """Put back the production version that the current one replaced; return it.

    Repeated rollbacks walk further back through the versions that were in production.
    """
    return ModelVersion(current_store(), *_transitions.rollback(name, reason))


def set_alias(name: str, alias: str, version: int, reason: str | None = None) -> ModelVersion:
    """Point the free-form ``alias`` (``champion``, ``shadow`` …) of ``name`` at ``version``."""
    return ModelVersion(current_store(), *_transitions.set_alias(name, alias, version, reason))


def delete_alias(name: str, alias: str, reason: str | None = None) -> None:
    """Remove ``alias`` from ``name``."""
    _transitions.delete_alias(name, alias, reason)


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
    return ModelVersion(current_store(), *_transitions.delete_version(name, version, reason))


def model_history(name: str) -> pd.DataFrame:
    """Every transition of ``name``: ``at, version, action, from_stage, to_stage, user, reason,
    gates`` (the list of gates a promotion passed, else None)."""
    import json

    import pandas as pd

    rows = current_store().models.history(model_name(name))
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
            "gates",
        ],
    ).rename(columns={"user_name": "user"})
    frame["at"] = pd.to_datetime(frame["at"].astype(float), unit="s", utc=True)
    frame["gates"] = pd.Series(
        [json.loads(g) if isinstance(g, str) else None for g in frame["gates"]],
        index=frame.index,
        dtype=object,
    )
    return frame[["at", "version", "action", "from_stage", "to_stage", "user", "reason", "gates"]]
