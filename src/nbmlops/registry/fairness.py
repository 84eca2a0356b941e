"""Fairness gates over the per-segment metrics that :func:`nbmlops.evaluate` stores:
``fairness.max_gap(recall, by=sex) <= 0.05`` (largest minus smallest value across the groups
of ``sex``) and ``fairness.min_ratio(selection_rate, by=age_band) >= 0.8`` (smallest over
largest, the "four-fifths rule"). The gate table names the groups at both ends, so a failing
gate says which group is worst off.

Groups come from ``evaluate(..., sensitive_features=["sex", "age_band"])`` (each column on its
own, segments ``sex=F``, ``sex=M`` …) or ``segments="sex"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from ..tracking._gates import GateDataMissing

FUNCTIONS = ("fairness.max_gap", "fairness.min_ratio")
_BY = re.compile(r"\bfairness\.\w+\([^)]*\bby\s*=\s*(`[^`]+`|[A-Za-z_]\w*)")


def fairness_columns(gates: list[str]) -> list[str]:
    """The ``by=`` columns the fairness gates among ``gates`` compare groups of, in order:
    what an evaluation must be segmented by for them (the retraining loop passes them to
    ``evaluate(..., sensitive_features=...)``)."""
    found = [m.group(1).strip("`") for g in gates for m in _BY.finditer(g)]
    return list(dict.fromkeys(found))


def _groups(rows: list[dict], metric: str, by: str, label: str) -> dict[str, float]:
    prefix = f"{by}="
    values: dict[str, float] = {}
    keys: set[str] = set()
    for row in rows:
        segment = row["segment"]
        if not segment.startswith(prefix) or "," in segment:
            continue
        keys.add(row["key"])
        if row["key"] == metric and row["value"] is not None and not math.isnan(row["value"]):
            values[segment] = float(row["value"])
    if not keys:
        raise GateDataMissing(
            f"{label} has no metrics by {by!r}: run nbmlops.evaluate(model, X, y, "
            f"sensitive_features={by!r})"
        )
    if metric not in keys:
        raise GateDataMissing(
            f"{label} has no metric {metric!r} by {by!r} (it has {', '.join(sorted(keys))})"
        )
    if len(values) < 2:
        raise GateDataMissing(
            f"{label} has {metric!r} for {len(values)} group(s) of {by!r}; a gap needs two"
        )
    return values


def _ends(values: dict[str, float]) -> tuple[str, str]:
    low = min(values, key=lambda k: (values[k], k))
    high = max(values, key=lambda k: (values[k], k))
    return low, high


def gate_functions(rows: list[dict], label: str) -> dict[str, Callable]:
    """The fairness functions of a gate, over ``rows`` (a version's stored metric rows)."""

    def max_gap(metric: str, by: str) -> tuple[float, str]:
        values = _groups(rows, metric, by, label)
        low, high = _ends(values)
        gap = values[high] - values[low]
        return gap, (
            f"{metric} gap {gap:.4g} between {low} ({values[low]:.4g}, lowest) and {high} "
            f"({values[high]:.4g}, highest)"
        )

    def min_ratio(metric: str, by: str) -> tuple[float, str]:
        values = _groups(rows, metric, by, label)
        low, high = _ends(values)
        ratio = values[low] / values[high] if values[high] else math.nan
        return ratio, (
            f"{metric} ratio {ratio:.4g}: {low} ({values[low]:.4g}, lowest) over {high} "
            f"({values[high]:.4g}, highest)"
        )

    return {"fairness.max_gap": max_gap, "fairness.min_ratio": min_ratio}
