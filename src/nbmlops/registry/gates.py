"""Promotion gates: ``"metrics.f1 >= 0.85"``, ``"metrics.f1 >= champion.metrics.f1 - 0.01"``,
``"fairness.max_gap(recall, by=sex) <= 0.05"`` (see :mod:`.fairness`), ``"latency.p99_ms < 50"``.

A gate is one comparison between two arithmetic expressions of numbers and metric references:
``metrics.KEY`` (the candidate version's metrics) and ``champion.metrics.KEY`` (the current
production version's), and ``latency.KEY`` / ``champion.latency.KEY`` (``p50_ms``, ``p99_ms``,
``batch_p50_ms``, ``batch_p99_ms``: measured on the version's reference rows when a gate names
them, see :mod:`.latency`). Keys with other characters are quoted with backticks, as in run filters:
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

__all__ = ["GateResult", "evaluate_gates", "mentions_latency", "validate_gates"]

_PREFIXES = ("metrics", "champion.metrics", "latency", "champion.latency")


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
    candidate_latency: dict[str, float] | None = None,
    champion_latency: dict[str, float] | None = None,
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
        _gates.Scope("latency", candidate_latency or {}, f"the latency of {candidate_label}"),
        _gates.Scope(
            "champion.latency",
            champion_latency if champion is not None else None,
            f"the latency of {champion_label}",
            absent="no production version yet",
        ),
    ]
    functions = gate_functions(candidate_segments or [], candidate_label)
    return _gates.evaluate_gates(gates, scopes, InvalidModel, functions)


def mentions_latency(gates: list[str], champion: bool = False) -> bool:
    """True when a gate names ``latency.KEY`` (``champion``: ``champion.latency.KEY``)."""
    import re

    pattern = r"champion\.latency\." if champion else r"(?<!champion\.)(?<![\w.])latency\."
    return any(re.search(pattern, gate.replace("`", "")) for gate in gates)
