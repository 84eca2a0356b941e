"""Promotion gates: ``"metrics.f1 >= 0.85"``, ``"metrics.f1 >= champion.metrics.f1 - 0.01"``,
``"fairness.max_gap(recall, by=sex) <= 0.05"`` (see :mod:`.fairness`).

A gate is one comparison between two arithmetic expressions of numbers and metric references:
``metrics.KEY`` (the candidate version's metrics) and ``champion.metrics.KEY`` (the current
production version's). Keys with other characters are quoted with backticks, as in run filters:
```metrics.f1-macro` >= 0.8``. When there is no champion yet, gates that mention it pass (the
first production version has nothing to beat).

The grammar and evaluator are shared with notebook pipelines (:mod:`nbmlops.tracking._gates`);
this module only says what the two scopes are.
"""

from __future__ import annotations

from ..errors import InvalidModel
from ..tracking import _gates
from ..tracking._gates import GateResult
from .fairness import FUNCTIONS, gate_functions

__all__ = ["GateResult", "evaluate_gates", "validate_gates"]

_PREFIXES = ("metrics", "champion.metrics")


def validate_gates(gates: object) -> list[str]:
    """The gates as a list of strings, each parsed once so a typo fails before anything runs."""
    return _gates.validate_gates(gates, _PREFIXES, InvalidModel, FUNCTIONS)


def evaluate_gates(
    gates: list[str],
    candidate: dict[str, float],
    champion: dict[str, float] | None,
    candidate_label: str = "the candidate",
    champion_label: str = "the champion",
    candidate_segments: list[dict] | None = None,
):
    """A DataFrame with one row per gate: ``gate, value, threshold, passed, detail``.

    ``candidate_segments``: the candidate's stored metric rows (segment, key, value), which
    the fairness functions read."""
    scopes = [
        _gates.Scope(
            "metrics",
            candidate,
            candidate_label,
            "; log it in its run or compute it with nbmlops.evaluate",
        ),
        _gates.Scope(
            "champion.metrics", champion, champion_label, absent="no production version yet"
        ),
    ]
    functions = gate_functions(candidate_segments or [], candidate_label)
    return _gates.evaluate_gates(gates, scopes, InvalidModel, functions)
