"""``ColumnDrift``: what was computed for one column of a drift report. Its own module so
:mod:`.drift` (which computes it) and :mod:`.report` (which shows it) both import it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NULL_SHIFT = 0.05


@dataclass
class ColumnDrift:
    """Everything computed for one column: the test, PSI, missing values, notes, plot data."""

    column: str
    role: str  # feature | target | prediction
    kind: str  # numeric | categorical | datetime | empty
    method: str | None
    statistic: float | None
    p_value: float | None
    threshold: float | None
    psi: float
    n_reference: int
    n_current: int
    null_reference: float
    null_current: float
    notes: list[str] = field(default_factory=list)
    p_adjusted: float | None = None
    drifted: bool = False
    plot: dict[str, Any] = field(default_factory=dict)
    segments: list[dict[str, Any]] = field(default_factory=list)
    # Kept while the report is computed (segment attribution), never serialized.
    _bins: Any = None

    @property
    def null_shift(self) -> bool:
        return abs(self.null_current - self.null_reference) >= NULL_SHIFT

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        out["null_shift"] = self.null_shift
        return out
