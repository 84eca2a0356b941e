"""Promotion gates: ``"metrics.f1 >= 0.85"``, ``"metrics.f1 >= champion.metrics.f1 - 0.01"``.

A gate is one comparison between two arithmetic expressions of numbers and metric references:
``metrics.KEY`` (the candidate version's metrics) and ``champion.metrics.KEY`` (the current
production version's). Keys with other characters are quoted with backticks, as in run filters:
```metrics.f1-macro` >= 0.8``. When there is no champion yet, gates that mention it pass (the
first production version has nothing to beat).
"""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass

from ..errors import InvalidModel
from ..tracking._filter import _prepare

_COMPARE = {
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_ARITH = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


class _Missing(Exception):
    def __init__(self, detail: str):
        self.detail = detail


class _NoChampion(Exception):
    pass


@dataclass(frozen=True)
class GateResult:
    gate: str
    value: float | None
    threshold: float | None
    passed: bool
    detail: str = ""


def _parse(gate: str) -> tuple[ast.Compare, dict[str, str]]:
    if not isinstance(gate, str) or not gate.strip():
        raise InvalidModel(f"a gate is a string such as 'metrics.f1 >= 0.85', got {gate!r}")
    source, names = _prepare(gate.strip())
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        tree = None
    if not isinstance(tree, ast.Compare) or len(tree.ops) != 1 or type(tree.ops[0]) not in _COMPARE:
        raise InvalidModel(
            f"cannot read gate {gate!r}: write one comparison, e.g. 'metrics.f1 >= 0.85' or "
            "'metrics.f1 >= champion.metrics.f1'"
        )
    return tree, names


def _reference(node: ast.AST, names: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return names.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _reference(node.value, names)
        return None if base is None else f"{base}.{node.attr}"
    return None


class _Evaluator:
    def __init__(
        self,
        gate: str,
        names: dict[str, str],
        candidate: dict[str, float],
        champion: dict[str, float] | None,
        candidate_label: str,
        champion_label: str,
    ):
        self.gate = gate
        self.names = names
        self.candidate = candidate
        self.champion = champion
        self.candidate_label = candidate_label
        self.champion_label = champion_label

    def value(self, node: ast.AST) -> float:
        ref = _reference(node, self.names)
        if ref is not None:
            return self.lookup(ref)
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (int, float))
            and not (isinstance(node.value, bool))
        ):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.value(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            left, right = self.value(node.left), self.value(node.right)
            try:
                return _ARITH[type(node.op)](left, right)
            except ZeroDivisionError:
                return math.nan
        raise InvalidModel(
            f"cannot read gate {self.gate!r}: {ast.unparse(node)!r} is not a number or a "
            "metric (use metrics.KEY or champion.metrics.KEY)"
        )

    def lookup(self, ref: str) -> float:
        if ref.startswith("champion.metrics."):
            key = ref[len("champion.metrics.") :]
            if self.champion is None:
                raise _NoChampion()
            if key not in self.champion:
                raise _Missing(f"{self.champion_label} has no metric {key!r}")
            return float(self.champion[key])
        if ref.startswith("metrics."):
            key = ref[len("metrics.") :]
            if key not in self.candidate:
                raise _Missing(
                    f"{self.candidate_label} has no metric {key!r}; log it in its run or "
                    "compute it with nbmlops.evaluate"
                )
            return float(self.candidate[key])
        raise InvalidModel(
            f"cannot read gate {self.gate!r}: unknown name {ref!r} (use metrics.KEY or "
            "champion.metrics.KEY, and backticks around names with other characters: "
            "`metrics.f1-macro`)"
        )


def validate_gates(gates: object) -> list[str]:
    """The gates as a list of strings, each parsed once so a typo fails before anything runs."""
    if gates is None:
        return []
    if isinstance(gates, str):
        gates = [gates]
    if not isinstance(gates, (list, tuple)):
        raise InvalidModel(f"gates is a list of strings, got {type(gates).__name__}")
    for gate in gates:
        _parse(gate)
    return list(gates)


def evaluate_gates(
    gates: list[str],
    candidate: dict[str, float],
    champion: dict[str, float] | None,
    candidate_label: str = "the candidate",
    champion_label: str = "the champion",
):
    """A DataFrame with one row per gate: ``gate, value, threshold, passed, detail``."""
    import pandas as pd

    results = []
    for gate in gates:
        tree, names = _parse(gate)
        ev = _Evaluator(gate, names, candidate, champion, candidate_label, champion_label)
        compare = _COMPARE[type(tree.ops[0])]
        try:
            left = ev.value(tree.left)
            right = ev.value(tree.comparators[0])
        except _NoChampion:
            results.append(GateResult(gate, None, None, True, "no production version yet"))
            continue
        except _Missing as missing:
            results.append(GateResult(gate, None, None, False, missing.detail))
            continue
        if math.isnan(left) or math.isnan(right):
            results.append(GateResult(gate, left, right, False, "a value is NaN"))
            continue
        results.append(GateResult(gate, left, right, bool(compare(left, right))))
    return pd.DataFrame(
        [r.__dict__ for r in results], columns=["gate", "value", "threshold", "passed", "detail"]
    )
