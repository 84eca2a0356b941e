"""Quality gates of a notebook run: expressions on rolled-up metrics and ``nbmlops:gate`` cells.

Two kinds of checks end up in one table (``PipelineRun.gates``, columns
``gate, value, threshold, passed, detail``):

- expression gates, ``gates=["metrics.f1 >= 0.85"]`` — the grammar of promotion gates
  (:mod:`nbmlops.tracking._gates`), evaluated on the run's rolled-up metrics. A metric no
  tracked cell logged fails its gate and says so;
- checks of cells tagged ``nbmlops:gate`` — one row per ``assert`` (``cell 7: assert f1 > 0.8``),
  with the assertion message as detail.

Any failed row fails the run's gate: status FAILED, tag ``nbmlops.gate=failed``,
``nbmlops.outcome=gate_failed`` and :class:`~nbmlops.errors.GateFailed`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InvalidGate
from ..tracking import _gates

PREFIXES = ("metrics",)


def validate_gates(gates: object) -> list[str]:
    """``gates`` as a list of strings, each parsed so a typo fails before the notebook runs.

    >>> validate_gates("metrics.f1 >= 0.85")
    ['metrics.f1 >= 0.85']
    """
    return _gates.validate_gates(gates, PREFIXES, InvalidGate)


def evaluate_gates(gates: Sequence[str], metrics: dict[str, float], label: str = "the run"):
    """One row per gate on ``metrics``: ``gate, value, threshold, passed, detail``."""
    scope = _gates.Scope(
        "metrics",
        metrics,
        label,
        "; log it in a %%track cell of the notebook (its metrics roll up to the notebook run)",
    )
    return _gates.evaluate_gates(list(gates), [scope], InvalidGate)


def gate_table(gates: Sequence[str], metrics: dict[str, float], checks: list[dict]):
    """Expression gates and gate-cell checks in one table."""
    import pandas as pd

    table = evaluate_gates(gates, metrics)
    rows = [
        {
            "gate": f"cell {c.get('cell')}: {c.get('check', '')}",
            "value": None,
            "threshold": None,
            "passed": bool(c.get("passed")),
            "detail": str(c.get("message") or ""),
        }
        for c in checks
    ]
    if not rows:
        return table
    cells = pd.DataFrame(rows, columns=_gates.COLUMNS)
    merged = cells if table.empty else pd.concat([table, cells], ignore_index=True)
    merged["passed"] = merged["passed"].astype(bool)
    return merged
