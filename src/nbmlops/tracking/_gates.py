"""Quality gates: one comparison such as ``"metrics.f1 >= 0.85"``, evaluated on metric dicts.

The grammar is shared by model promotion (``nbmlops.promote(..., gates=...)``, where
``champion.metrics.KEY`` names the production version's metrics) and notebook pipelines
(``nbmlops.run_notebook(..., gates=...)``, on the rolled-up metrics of the run). A gate is one
comparison between two arithmetic expressions (``+ - * /``, unary minus, parentheses) of numbers
and metric references ``SCOPE.KEY``; keys with other characters are quoted with backticks, as in
run filters: ```metrics.f1-macro` >= 0.8``. Nothing is ever ``eval``-ed: the expression is
parsed with :mod:`ast` and only the nodes above are accepted.

Each caller describes its scopes (which prefixes exist, which metrics they hold, what to say
when a metric is missing) and the error class to raise for an unreadable gate.
"""

from __future__ import annotations

import ast
import keyword
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .. import errors

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
# Backtick names and MLflow-isms (=, AND) rewritten to Python before ast.parse.
_QUOTED = re.compile(r"('[^']*'|\"[^\"]*\"|`[^`]*`)")
_SINGLE_EQ = re.compile(r"(?<![=!<>])=(?!=)")
_SQL_WORDS = re.compile(r"(?<!\.)\b(AND|OR|NOT|IN)\b")
# A dotted column name such as params.lambda; not preceded by a digit or dot, so 0.5 is no name.
_DOTTED = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.\w+)+")


def _prepare(text: str) -> tuple[str, dict[str, str]]:
    """Rewrite backtick names to placeholders and MLflow-isms to Python, outside strings."""
    names: dict[str, str] = {}
    out = []
    for part in _QUOTED.split(text):
        if part.startswith("`") and part.endswith("`") and len(part) >= 2:
            placeholder = f"__nbmlops_q{len(names)}__"
            names[placeholder] = part[1:-1]
            out.append(placeholder)
        elif part[:1] in ("'", '"'):
            out.append(part)
        else:
            part = _SINGLE_EQ.sub("==", part)
            part = _SQL_WORDS.sub(lambda m: m.group(1).lower(), part)
            out.append(_DOTTED.sub(lambda m: _quote_if_needed(m.group(0), names), part))
    return "".join(out), names


def _quote_if_needed(dotted: str, names: dict[str, str]) -> str:
    """Turn ``params.lambda`` (a keyword, not valid Python) into a placeholder name."""
    if all(s.isidentifier() and not keyword.iskeyword(s) for s in dotted.split(".")):
        return dotted
    placeholder = f"__nbmlops_q{len(names)}__"
    names[placeholder] = dotted
    return placeholder


COLUMNS = ["gate", "value", "threshold", "passed", "detail"]


@dataclass(frozen=True)
class Scope:
    """Where ``PREFIX.KEY`` references are looked up.

    ``values`` None means the whole scope is absent (e.g. no champion yet): gates that mention
    it pass with ``absent`` as their detail. A missing key fails the gate with
    ``"<label> has no metric 'KEY'<missing_hint>"``.
    """

    prefix: str
    values: Mapping[str, float] | None
    label: str
    missing_hint: str = ""
    absent: str = ""


@dataclass(frozen=True)
class GateResult:
    gate: str
    value: float | None
    threshold: float | None
    passed: bool
    detail: str = ""


class _Missing(Exception):
    def __init__(self, detail: str):
        self.detail = detail


class _Absent(Exception):
    def __init__(self, detail: str):
        self.detail = detail


def _example(prefixes: Sequence[str]) -> str:
    first = f"'{prefixes[0]}.f1 >= 0.85'"
    if len(prefixes) > 1:
        return f"{first} or '{prefixes[0]}.f1 >= {prefixes[1]}.f1'"
    return first


def _usage(prefixes: Sequence[str]) -> str:
    return " or ".join(f"{p}.KEY" for p in prefixes)


def parse_gate(
    gate: object,
    prefixes: Sequence[str],
    error: type[Exception] = errors.InvalidGate,
    functions: Sequence[str] = (),
) -> tuple[ast.Compare, dict[str, str]]:
    """The parsed comparison and the backtick placeholders of ``gate``, or ``error``.

    ``functions`` are the dotted names callable as ``NAME(METRIC, by=COLUMN)`` (the fairness
    gates of the registry), each argument a bare name or a backtick-quoted one."""
    if not isinstance(gate, str) or not gate.strip():
        raise error(f"a gate is a string such as {_example(prefixes)}, got {gate!r}")
    source, names = _prepare(gate.strip())
    try:
        tree = ast.parse(source, mode="eval").body
    except (SyntaxError, RecursionError, MemoryError, UnicodeEncodeError):
        tree = None  # nested too deeply for Python, or not valid Unicode: not a gate
    if not isinstance(tree, ast.Compare) or len(tree.ops) != 1 or type(tree.ops[0]) not in _COMPARE:
        raise error(f"cannot read gate {gate!r}: write one comparison, e.g. {_example(prefixes)}")
    _check_nodes(gate, tree, names, prefixes, error, functions)
    return tree, names


def _check_nodes(gate, node, names, prefixes, error, functions=()) -> None:
    """Refuse anything but numbers, references, arithmetic and one comparison, before use."""
    for side in (node.left, *node.comparators):
        _check_value(gate, side, names, prefixes, error, functions)


def call_parts(node: ast.Call, names: dict[str, str]) -> tuple[str | None, list, dict]:
    """``(function, [argument names], {keyword: name})`` of a gate's function call; an
    argument that is not a bare (or backtick-quoted) name is None."""

    def name(n: ast.AST) -> str | None:
        return names.get(n.id, n.id) if isinstance(n, ast.Name) else None

    args, keywords = [], {k.arg: name(k.value) for k in node.keywords}
    for arg in node.args:
        # The filter syntax turns a single "=" into "==": "by=sex" arrives as a comparison.
        if (
            isinstance(arg, ast.Compare)
            and isinstance(arg.ops[0], ast.Eq)
            and len(arg.ops) == 1
            and isinstance(arg.left, ast.Name)
        ):
            keywords[arg.left.id] = name(arg.comparators[0])
        else:
            args.append(name(arg))
    return _reference(node.func, names), args, keywords


def _check_call(gate, node, names, error, functions) -> None:
    function, args, keywords = call_parts(node, names)
    usage = f"{function or 'fairness.max_gap'}(METRIC, by=COLUMN)"
    if function not in functions:
        known = ", ".join(functions) if functions else "none here"
        raise error(
            f"cannot read gate {gate!r}: unknown function {function or ast.unparse(node.func)!r} "
            f"(functions: {known})"
        )
    if len(args) != 1 or None in args or set(keywords) != {"by"} or keywords["by"] is None:
        raise error(f"cannot read gate {gate!r}: write {usage}, e.g. {function}(recall, by=sex)")


def _check_value(gate, node, names, prefixes, error, functions=()) -> None:
    if isinstance(node, ast.Call):
        _check_call(gate, node, names, error, functions)
        return
    ref = _reference(node, names)
    if ref is not None:
        if not any(ref.startswith(f"{p}.") and len(ref) > len(p) + 1 for p in prefixes):
            raise error(
                f"cannot read gate {gate!r}: unknown name {ref!r} (use {_usage(prefixes)}, and "
                f"backticks around names with other characters: `{prefixes[0]}.f1-macro`)"
            )
        return
    if isinstance(node, ast.Constant) and _is_number(node.value):
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        _check_value(gate, node.operand, names, prefixes, error, functions)
        return
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        _check_value(gate, node.left, names, prefixes, error, functions)
        _check_value(gate, node.right, names, prefixes, error, functions)
        return
    raise error(
        f"cannot read gate {gate!r}: {ast.unparse(node)!r} is not a number or a metric "
        f"(use {_usage(prefixes)})"
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _reference(node: ast.AST, names: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return names.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _reference(node.value, names)
        return None if base is None else f"{base}.{node.attr}"
    return None


class GateDataMissing(LookupError):
    """Raised by a gate function when the data it needs is not there; the gate fails with
    the message as its detail."""


# A gate function: (metric, by) -> (value, detail shown in the gate table).
GateFunction = Callable[[str, str], tuple[float, str]]


class _Evaluator:
    def __init__(
        self,
        names: dict[str, str],
        scopes: Sequence[Scope],
        functions: Mapping[str, GateFunction] | None = None,
    ):
        self.names = names
        # Longest prefix first: "champion.metrics.f1" is not "metrics" of "champion".
        self.scopes = sorted(scopes, key=lambda s: -len(s.prefix))
        self.functions = functions or {}
        self.details: list[str] = []

    def value(self, node: ast.AST) -> float:
        if isinstance(node, ast.Call):
            function, args, keywords = call_parts(node, self.names)
            try:
                value, detail = self.functions[function](args[0], keywords["by"])
            except GateDataMissing as exc:
                raise _Missing(str(exc)) from None
            if detail:
                self.details.append(detail)
            return value
        ref = _reference(node, self.names)
        if ref is not None:
            return self.lookup(ref)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.UnaryOp):
            inner = self.value(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        assert isinstance(node, ast.BinOp)  # _check_value admitted nothing else
        left, right = self.value(node.left), self.value(node.right)
        try:
            return _ARITH[type(node.op)](left, right)
        except ZeroDivisionError:
            return math.nan

    def side(self, node: ast.AST) -> tuple[float | None, _Missing | _Absent | None]:
        """The value of one side of a gate, or None and why it cannot be read."""
        try:
            return self.value(node), None
        except (_Missing, _Absent) as gap:
            return None, gap

    def lookup(self, ref: str) -> float:
        for scope in self.scopes:
            if ref.startswith(f"{scope.prefix}."):
                key = ref[len(scope.prefix) + 1 :]
                if scope.values is None:
                    raise _Absent(scope.absent)
                if key not in scope.values:
                    raise _Missing(f"{scope.label} has no metric {key!r}{scope.missing_hint}")
                return float(scope.values[key])
        raise AssertionError(ref)  # parse_gate refused unknown prefixes


def validate_gates(
    gates: object,
    prefixes: Sequence[str],
    error: type[Exception] = errors.InvalidGate,
    functions: Sequence[str] = (),
) -> list[str]:
    """The gates as a list of strings, each parsed once so a typo fails before anything runs."""
    if gates is None:
        return []
    if isinstance(gates, str):
        gates = [gates]
    if not isinstance(gates, (list, tuple)):
        raise error(f"gates is a list of strings, got {type(gates).__name__}")
    for gate in gates:
        parse_gate(gate, prefixes, error, functions)
    return list(gates)


def evaluate_gates(
    gates: Sequence[str],
    scopes: Sequence[Scope],
    error: type[Exception] = errors.InvalidGate,
    functions: Mapping[str, GateFunction] | None = None,
):
    """A DataFrame with one row per gate: ``gate, value, threshold, passed, detail``."""
    import pandas as pd

    prefixes = [s.prefix for s in scopes]
    results = []
    for gate in gates:
        tree, names = parse_gate(gate, prefixes, error, tuple(functions or ()))
        ev = _Evaluator(names, scopes, functions)
        compare = _COMPARE[type(tree.ops[0])]
        (left, left_gap), (right, right_gap) = ev.side(tree.left), ev.side(tree.comparators[0])
        gap = left_gap or right_gap
        if gap is not None:
            # The side that could be read is still shown: "— vs 0.85", not "— vs —".
            passed = isinstance(gap, _Absent)  # nothing to compare against yet passes
            results.append(GateResult(gate, left, right, passed, gap.detail))
            continue
        detail = "; ".join(ev.details)
        if math.isnan(left) or math.isnan(right):
            nan = "a value is NaN" + (f" ({detail})" if detail else "")
            results.append(GateResult(gate, left, right, False, nan))
            continue
        results.append(GateResult(gate, left, right, bool(compare(left, right)), detail))
    frame = pd.DataFrame([r.__dict__ for r in results], columns=COLUMNS)
    frame["passed"] = frame["passed"].astype(bool)
    return frame
