"""What the in-memory and the out-of-core drift computations share: the test choice, the
default thresholds and the sizes of plots, so both give the same verdicts."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import MonitoringError
from . import stats

METHODS = ("ks", "chi2", "wasserstein", "jensenshannon", "psi")
P_VALUE_METHODS = ("ks", "chi2")
DEFAULT_THRESHOLDS = {
    "ks": 0.05,
    "chi2": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.2,
}
SMALL_SAMPLE = 1000
FEW_VALUES = 5
HIST_BINS = 40
ECDF_POINTS = 101
TOP_CATEGORIES = 30
TOP_SEGMENTS = 10
PROGRESS_CELLS = 5_000_000


def require_same_columns(ref_cols: Any, cur_cols: Any) -> None:
    """Refuse frames whose columns differ, naming what is only on each side."""
    only_ref = [c for c in ref_cols if c not in cur_cols]
    only_cur = [c for c in cur_cols if c not in ref_cols]
    if only_ref or only_cur:
        parts = []
        if only_ref:
            parts.append(f"only in reference: {', '.join(map(repr, only_ref))}")
        if only_cur:
            parts.append(f"only in current: {', '.join(map(repr, only_cur))}")
        raise MonitoringError(
            "the frames have different columns (" + "; ".join(parts) + "); pass "
            "columns=[...] to compare the shared ones"
        )


def note_missing(col: Any, n_ref: int, n_cur: int) -> bool:
    """Note a shift in missing values on ``col``; when one side has no values at all, say so
    (drifted unless both are empty) and return True: there is nothing to test."""
    if col.null_shift:
        col.notes.append(f"missing values {col.null_reference:.1%} → {col.null_current:.1%}")
    if n_ref and n_cur:
        return False
    if n_ref == 0 and n_cur == 0:
        col.kind = "empty"
        col.notes.append("all values missing in both frames: nothing to compare")
    elif n_cur == 0:
        col.drifted = True
        col.notes.append("all values missing in current (present in reference)")
    else:
        col.drifted = True
        col.notes.append("all values missing in reference (present in current)")
    return True


def _choose(method: str, kind: str, n_ref: int, column: str) -> str:
    if method == "auto":
        if kind in ("numeric", "datetime"):
            return "ks" if n_ref <= SMALL_SAMPLE else "wasserstein"
        return "chi2" if n_ref <= SMALL_SAMPLE else "jensenshannon"
    if method not in METHODS:
        raise MonitoringError(
            f"unknown method {method!r} for column {column!r}: use 'auto' or one of "
            f"{', '.join(METHODS)}"
        )
    if kind == "categorical" and method in ("ks", "wasserstein"):
        raise MonitoringError(
            f"{method} needs numbers but column {column!r} is categorical; use chi2, "
            "jensenshannon or psi for it"
        )
    return method


def _round(values: np.ndarray) -> list[float]:
    return [float(f"{v:.6g}") for v in np.asarray(values, dtype=float)]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _categorical_plot(keys, ref_counts: np.ndarray, cur_counts: np.ndarray) -> dict[str, Any]:
    ref_share, cur_share = stats.shares(ref_counts), stats.shares(cur_counts)
    order = np.argsort(-(ref_share + cur_share), kind="stable")
    top = order[:TOP_CATEGORIES]
    labels = [str(keys[i]) for i in top]
    ref_top, cur_top = list(ref_share[top]), list(cur_share[top])
    if len(order) > TOP_CATEGORIES:
        rest = order[TOP_CATEGORIES:]
        labels.append(f"(other {len(rest)})")
        ref_top.append(float(ref_share[rest].sum()))
        cur_top.append(float(cur_share[rest].sum()))
    return {
        "type": "categorical",
        "categories": labels,
        "reference": _round(np.asarray(ref_top)),
        "current": _round(np.asarray(cur_top)),
        "n_categories": int(len(keys)),
    }
