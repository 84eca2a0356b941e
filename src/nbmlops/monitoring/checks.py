"""Monitor checks: the conditions that raise an alert, written as short sentences.

- ``"psi > 0.25 on income"``: a drift figure of one column (``psi``, ``statistic``); without
  ``on COLUMN`` the largest value over the input columns (``on prediction`` for the output);
- ``"drift_share >= 0.5"``, ``"drifted_columns >= 3"``, ``"dataset_drift"``: the whole window;
- ``"f1 < 0.8"``: a performance metric on the window's labelled rows (``accuracy``,
  ``precision``, ``recall``, ``f1``, ``roc_auc``, ``mae``, ``rmse``, ``r2``);
- ``"f1 drops by more than 0.05"`` / ``"rmse rises by more than 2"``: against the version's
  baseline metrics (its evaluation when the monitor first watched it);
- any of them ``... for 3 windows``: only when it held in this and the previous two runs.

A check alerts when its condition holds. Checks that cannot be computed (no labelled rows yet, no
baseline metric) do not alert and say why.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from typing import Any

from ..errors import InvalidCheck

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
COLUMN_STATS = ("psi", "statistic")
WINDOW_STATS = ("drift_share", "drifted_columns")
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse", "r2")
_FOR = r"(?:\s+for\s+(?P<n>\d+)\s+windows?)?\s*$"
_NUMBER = r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)"
_COMPARE = re.compile(
    r"^\s*(?P<stat>[a-z_][a-z0-9_]*)\s*(?P<op>>=|<=|>|<)\s*"
    + _NUMBER
    + r"(?:\s+on\s+(?:`(?P<quoted>[^`]+)`|(?P<column>\S+?)))?"
    + _FOR,
    re.IGNORECASE,
)
_CHANGE = re.compile(
    r"^\s*(?P<stat>[a-z_][a-z0-9_]*)\s+(?P<dir>drops|rises)\s+by\s+more\s+than\s+" + _NUMBER + _FOR,
    re.IGNORECASE,
)
_FLAG = re.compile(r"^\s*dataset_drift" + _FOR, re.IGNORECASE)
COLUMNS = ["check", "value", "threshold", "held", "alert", "detail", "columns"]


@dataclasses.dataclass(frozen=True)
class Check:
    text: str
    stat: str
    op: str  # > >= < <=, or "drop"/"rise"/"flag"
    value: float
    column: str | None = None
    windows: int = 1


def parse_check(text: object) -> Check:
    if not isinstance(text, str) or not text.strip():
        raise InvalidCheck(text, "a check is a non-empty string")
    if len(text) > 500:
        raise InvalidCheck(text[:40] + "…", "a check is at most 500 characters")
    if (m := _FLAG.match(text)) is not None:
        return Check(text, "dataset_drift", "flag", 1.0, None, _windows(text, m))
    if (m := _CHANGE.match(text)) is not None:
        stat = m["stat"].lower()
        if stat not in METRICS:
            raise InvalidCheck(text, f"{stat!r} is not a metric ({', '.join(METRICS)})")
        op = "drop" if m["dir"].lower() == "drops" else "rise"
        return Check(text, stat, op, _value(text, m), None, _windows(text, m))
    if (m := _COMPARE.match(text)) is not None:
        stat = m["stat"].lower()
        column = m["quoted"] or m["column"]
        if stat not in COLUMN_STATS + WINDOW_STATS + METRICS:
            raise InvalidCheck(
                text,
                f"unknown measure {stat!r} (use {', '.join(COLUMN_STATS + WINDOW_STATS + METRICS)})",
            )
        if column is not None and stat not in COLUMN_STATS:
            raise InvalidCheck(text, f"'on COLUMN' goes with {' or '.join(COLUMN_STATS)} only")
        return Check(text, stat, m["op"], _value(text, m), column, _windows(text, m))
    raise InvalidCheck(text, "it matches none of the check forms")


def _value(text: str, m: re.Match) -> float:
    value = float(m["value"])
    if not math.isfinite(value):
        raise InvalidCheck(text, "the threshold must be a finite number")
    return value


def _windows(text: str, m: re.Match) -> int:
    n = int(m["n"]) if m["n"] else 1
    if not 1 <= n <= 1000:
        raise InvalidCheck(text, "'for N windows' takes N from 1 to 1000")
    return n


def parse_checks(checks: object) -> list[Check]:
    if checks is None:
        return []
    if isinstance(checks, str):
        checks = [checks]
    if not isinstance(checks, (list, tuple)):
        raise InvalidCheck(checks, "checks is a list of strings")
    return [parse_check(c) for c in checks]


def _column_value(check: Check, report) -> tuple[float | None, list[str], str]:
    if check.column is not None:
        candidates = [c for c in report.columns if c["column"] == check.column]
        if not candidates:
            return None, [], f"column {check.column!r} is not in the window's report"
    else:
        candidates = report.features
    values = [(c[check.stat], c["column"]) for c in candidates if _finite(c.get(check.stat))]
    if not values:
        return None, [], f"no {check.stat} computed"
    value, column = max(values)
    holding = [col for v, col in sorted(values, reverse=True) if _OPS[check.op](v, check.value)]
    return float(value), holding or [column], f"largest on {column}"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def evaluate(
    check: Check,
    report,
    metrics: dict[str, float],
    baseline: dict[str, float],
    previous_held: list[bool],
) -> dict[str, Any]:
    """One row of the checks table. ``previous_held``: did it hold in the earlier windows
    (most recent last)?"""
    value: float | None = None
    threshold: float | None = check.value
    columns: list[str] = []
    detail = ""
    held = False
    if check.op == "flag":
        if report is not None:
            value, threshold = report.drift_share, report.options.get("drift_share", 0.5)
            held = bool(report.dataset_drift)
            columns = report.drifted_columns if held else []
        else:
            detail = "no logged rows"
    elif check.stat in COLUMN_STATS:
        if report is None:
            detail = "no logged rows"
        else:
            value, columns, detail = _column_value(check, report)
            held = value is not None and _OPS[check.op](value, check.value)
            columns = columns if held else []
    elif check.stat in WINDOW_STATS:
        if report is None:
            detail = "no logged rows"
        else:
            value = (
                report.drift_share
                if check.stat == "drift_share"
                else float(len(report.drifted_columns))
            )
            held = _OPS[check.op](value, check.value)
            columns = report.drifted_columns if held else []
    else:
        current = metrics.get(check.stat)
        if not _finite(current):
            detail = "no labelled rows in the window" if not metrics else f"no {check.stat}"
        elif check.op in ("drop", "rise"):
            base = baseline.get(check.stat)
            if not _finite(base):
                detail = f"no baseline {check.stat} (evaluate the version with nbmlops.evaluate)"
            else:
                value = base - current if check.op == "drop" else current - base
                held = value > check.value
                detail = f"{check.stat} {base:.4g} → {current:.4g}"
        else:
            value = float(current)
            held = _OPS[check.op](value, check.value)
    streak = 0
    if held:
        streak = 1
        for earlier in reversed(previous_held):
            if not earlier:
                break
            streak += 1
    alert = held and streak >= check.windows
    if held and not alert:
        note = f"held {streak} of the {check.windows} consecutive windows needed"
        detail = f"{detail}; {note}" if detail else note
    return {
        "check": check.text,
        "value": value,
        "threshold": threshold,
        "held": bool(held),
        "alert": bool(alert),
        "detail": detail,
        "columns": columns,
    }
