"""Drift of data larger than memory, from aggregates only (:mod:`nbmlops.data`).

Per frame and engine pass: one profile (nulls, finite count, min, max, mean, std), exact order
statistics (PSI edges at the reference deciles, the plot's quantiles and ECDF), counts in bins
at the union of every edge a statistic needs, and value counts of categorical columns. From
those, with the in-memory rules (:mod:`._drift_rules`) and statistics (:mod:`.stats`):

- exact, equal to the in-memory report: PSI, chi-square, Jensen-Shannon (counts in the same
  bins or categories); KS when the reference has at most 1,000 values (the test ``auto`` picks
  then): the reference values are read (≤ 1,000), the current frame's ECDF at each of them is
  counted, which gives the exact statistic, and the p-value is scipy's (its exact method,
  reading the current values, when both sides have ≤ 10,000 values; else scipy's asymptotic
  formula, which is what ``ks_2samp`` uses there);
- bounded: the Wasserstein distance (∫|F_ref − F_cur|) from both frames' counts in 8,192
  equal cells between the smallest and the largest value of both: inside each cell the two
  CDFs are only known between their values at the cell's edges, which gives a lower and an
  upper bound; the estimate assumes values spread evenly in each cell, and the column's notes
  state ``± bound`` (normalized like the statistic). KS with more than 1,000
  reference values (only when asked for by ``method="ks"``) is bounded the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import MonitoringError
from . import stats
from ._column import ColumnDrift
from ._drift_rules import (
    DEFAULT_THRESHOLDS,
    ECDF_POINTS,
    FEW_VALUES,
    HIST_BINS,
    P_VALUE_METHODS,
    SMALL_SAMPLE,
    _categorical_plot,
    _choose,
    _fmt,
    _round,
    note_missing,
    require_same_columns,
)

GRID_STEPS = 8192
KS_EXACT_N = 10_000  # scipy's ks_2samp uses its exact method up to this many values per side
PLOT_QS = (0.005, 0.995, 0.05, 0.5, 0.95)
CATEGORICAL_FAMILIES = ("bool", "string", "category")


def _ranks_for(n: int) -> np.ndarray:
    """Every 0-based rank the statistics and plots read from a frame with ``n`` values."""
    if n == 0:
        return np.array([], dtype=np.int64)
    deciles = np.minimum((np.linspace(0, 1, stats.PSI_BINS + 1)[1:-1] * n).astype(int), n - 1)
    low = np.floor(np.asarray(PLOT_QS) * (n - 1)).astype(int)
    # the ECDF plot takes the order statistic at or below each point (no interpolation):
    # half the ranks, and selecting each rank is a pass of DuckDB's quantile_disc
    ecdf = np.floor(np.linspace(0, 1, ECDF_POINTS) * (n - 1)).astype(int)
    return np.unique(np.concatenate([deciles, low, np.minimum(low + 1, n - 1), ecdf]))


class _Side:
    """What was read of one frame for one numeric column."""

    def __init__(self, profile: dict, ranks: np.ndarray, values: np.ndarray):
        self.n = profile["n"]
        self.profile = profile
        self.at = dict(zip(ranks.tolist(), values.tolist(), strict=True))
        self.below: dict[float, int] = {}  # edge -> count of values < edge

    def rank(self, k: int) -> float:
        return self.at[int(k)]

    def quantile(self, q) -> np.ndarray | float:
        """``np.quantile`` (linear) from the order statistics read."""
        n = self.n
        position = np.asarray(q, dtype=float) * (n - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, n - 1)
        lo = np.vectorize(self.rank, otypes=[float])(low)
        hi = np.vectorize(self.rank, otypes=[float])(high)
        out = lo + (hi - lo) * (position - low)
        return float(out) if np.ndim(out) == 0 else out

    def lower(self, qs: np.ndarray) -> np.ndarray:
        """The order statistic at or below each quantile (the ECDF plot's points)."""
        return np.array([self.rank(k) for k in np.floor(qs * (self.n - 1)).astype(int)])

    def cdf_below(self, edges: np.ndarray) -> np.ndarray:
        """Counts of values < each edge (edges among those counted)."""
        return np.array([self.below[float(e)] for e in edges], dtype=float)


def _decile_edges(side: _Side) -> np.ndarray:
    n = side.n
    positions = np.minimum((np.linspace(0, 1, stats.PSI_BINS + 1)[1:-1] * n).astype(int), n - 1)
    return np.unique([side.rank(p) for p in positions])


def _counts(side: _Side, inner: np.ndarray) -> np.ndarray:
    """Counts in ``(-inf, e0), [e0, e1), …`` from the counted edges."""
    below = side.cdf_below(inner)
    return np.diff(np.concatenate([[0.0], below, [float(side.n)]]))


def _cells(ref: _Side, cur: _Side) -> tuple[float, float, int] | None:
    """``(low, width, n)`` of the equal cells between both frames' extremes (None: one value)."""
    lo = min(ref.profile["min"], cur.profile["min"])
    hi = max(ref.profile["max"], cur.profile["max"])
    width = (hi - lo) / GRID_STEPS
    return (lo, width, GRID_STEPS) if width > 0 and np.isfinite(width) else None


def _cdf_at_cells(counts: np.ndarray) -> np.ndarray:
    """Share of values in the cells before each cell edge (n + 1 numbers, 0 .. 1)."""
    return np.concatenate([[0.0], np.cumsum(counts)]) / max(counts.sum(), 1)


def _l1_bounds(width: float, fr: np.ndarray, fc: np.ndarray) -> tuple[float, float, float]:
    """``(estimate, lower, upper)`` of ∫|F_ref − F_cur| from both CDFs at the cell edges."""
    a_r, b_r, a_c, b_c = fr[:-1], fr[1:], fc[:-1], fc[1:]
    lower = np.maximum.reduce([np.zeros_like(a_r), a_r - b_c, a_c - b_r])
    upper = np.maximum(np.abs(b_r - a_c), np.abs(b_c - a_r))
    d0, d1 = a_r - a_c, b_r - b_c
    same = d0 * d1 >= 0
    total = np.abs(d0) + np.abs(d1)
    crossing = np.divide(d0**2 + d1**2, 2 * total, out=np.zeros_like(total), where=total > 0)
    estimate = np.clip(np.where(same, total / 2, crossing), lower, upper)
    return (
        float(width * estimate.sum()),
        float(width * lower.sum()),
        float(width * upper.sum()),
    )


def _sup_bounds(fr: np.ndarray, fc: np.ndarray) -> tuple[float, float]:
    """``(lower, upper)`` of sup |F_ref − F_cur| from both CDFs at the cell edges."""
    lower = float(np.abs(fr - fc).max())
    upper = max(lower, float(np.maximum(np.abs(fr[1:] - fc[:-1]), np.abs(fc[1:] - fr[:-1])).max()))
    return lower, upper


def _ks_exact(ref_values: np.ndarray, cur: _Side) -> float:
    """sup |F_ref − F_cur| with the reference known value by value and the current frame by
    its counts below and at each reference value (exact)."""
    r = np.unique(ref_values)
    n_ref = len(ref_values)
    f_ref = np.searchsorted(ref_values, r, side="right") / n_ref  # F_ref(r_i)
    below = cur.cdf_below(r) / cur.n  # F_cur(r_i^-)
    at_or_below = cur.cdf_below(np.nextafter(r, np.inf)) / cur.n  # F_cur(r_i)
    next_below = np.concatenate([below[1:], [1.0]])  # F_cur(r_{i+1}^-), 1 past the last
    return float(
        max(
            below[0],
            np.abs(f_ref - at_or_below).max(),
            np.abs(f_ref - next_below).max(),
        )
    )


def _ks_pvalue(d: float, n1: int, n2: int) -> float:
    """scipy's ``ks_2samp`` asymptotic two-sided p-value (what it uses past 10,000 values)."""
    from scipy.stats import distributions

    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(distributions.kstwo.sf(d, np.round(en)), 0, 1))


def _numeric_plot(ref: _Side, cur: _Side) -> dict[str, Any]:
    lo = min(ref.quantile(0.005), cur.quantile(0.005))
    hi = max(ref.quantile(0.995), cur.quantile(0.995))
    if not hi > lo:
        lo = min(ref.profile["min"], cur.profile["min"]) - 0.5
        hi = max(ref.profile["max"], cur.profile["max"]) + 0.5
    edges = np.linspace(lo, hi, HIST_BINS + 1)
    qs = np.linspace(0, 1, ECDF_POINTS)

    def histogram(side: _Side) -> np.ndarray:
        below = side.cdf_below(edges)
        counts = np.diff(below)
        counts[-1] += side.cdf_below(np.array([np.nextafter(hi, np.inf)]))[0] - below[-1]
        return counts / side.n

    return {
        "type": "numeric",
        "edges": _round(edges),
        "reference": _round(histogram(ref)),
        "current": _round(histogram(cur)),
        "ecdf_q": _round(qs),
        "ecdf_reference": _round(ref.lower(qs)),
        "ecdf_current": _round(cur.lower(qs)),
        "mean": [float(ref.profile["mean"]), float(cur.profile["mean"])],
        "std": [float(ref.profile["std"]), float(cur.profile["std"])],
        "quantiles": {
            str(q): [float(ref.quantile(q)), float(cur.quantile(q))] for q in (0.05, 0.5, 0.95)
        },
    }


def _plot_edges(ref: _Side, cur: _Side) -> np.ndarray:
    lo = min(ref.quantile(0.005), cur.quantile(0.005))
    hi = max(ref.quantile(0.995), cur.quantile(0.995))
    if not hi > lo:
        lo = min(ref.profile["min"], cur.profile["min"]) - 0.5
        hi = max(ref.profile["max"], cur.profile["max"]) + 0.5
    return np.concatenate([np.linspace(lo, hi, HIST_BINS + 1), [np.nextafter(hi, np.inf)]])


class _Plan:
    """One column: its kind, method and what must be read."""

    def __init__(self, column: str, role: str, kind: str, method: str, threshold):
        self.column, self.role, self.kind = column, role, kind
        self.method_option, self.threshold_option = method, threshold
        self.notes: list[str] = []
        self.ref: _Side | None = None
        self.cur: _Side | None = None
        self.ref_values: np.ndarray | None = None  # KS on a small reference
        self.cur_values: np.ndarray | None = None
        self.cells: tuple[float, float, int] | None = None  # Wasserstein / KS bounds
        self.cdf: tuple[np.ndarray, np.ndarray] | None = None
        self.numbers = False  # a numeric column compared as categories


def _kinds(ref, cur, columns: list[str], categorical: set[str]) -> dict[str, str]:
    kinds = {}
    for c in columns:
        fams = (ref.families[c], cur.families[c])
        is_dt = [f == "datetime" for f in fams]
        if any(is_dt) and not all(is_dt):
            raise MonitoringError(
                f"column {c!r} is a datetime in one frame and not in the other "
                f"({fams[0]} vs {fams[1]}); convert both the same way"
            )
        if c in categorical or any(f in CATEGORICAL_FAMILIES for f in fams):
            kinds[c] = "categorical"
        else:
            kinds[c] = "datetime" if all(is_dt) else "numeric"
    return kinds


def drift_columns(
    ref, cur, chosen: list[str], roles: dict[str, str], method, threshold, categorical, per_column
) -> list[ColumnDrift]:
    """The :class:`ColumnDrift` of every chosen column, from aggregates of both sources."""
    kinds = _kinds(ref, cur, chosen, categorical)
    ref_prof, cur_prof = ref.profile(chosen), cur.profile(chosen)
    n_ref_total, n_cur_total = ref.num_rows, cur.num_rows
    plans = {
        c: _Plan(
            c,
            roles.get(c, "feature"),
            kinds[c],
            per_column(method, c, "auto"),
            per_column(threshold, c, None),
        )
        for c in chosen
    }
    numeric = [c for c in chosen if kinds[c] != "categorical"]
    for c in numeric:
        if kinds[c] == "datetime":
            plans[c].notes.append("datetimes compared as seconds since 1970-01-01 UTC")
        for side, prof in (("reference", ref_prof[c]), ("current", cur_prof[c])):
            if prof["n_inf"]:
                plans[c].notes.append(f"{prof['n_inf']} infinite values in {side} ignored")
    # exact order statistics of both frames (one engine pass per frame)
    present = [c for c in numeric if ref_prof[c]["n"] and cur_prof[c]["n"]]
    ref_ranks = {c: _ranks_for(ref_prof[c]["n"]) for c in present}
    cur_ranks = {c: _ranks_for(cur_prof[c]["n"]) for c in present}
    ref_at = ref.order_stats(ref_ranks) if present else {}
    cur_at = cur.order_stats(cur_ranks) if present else {}
    for c in present:
        plan = plans[c]
        plan.ref = _Side(ref_prof[c], ref_ranks[c], ref_at[c])
        plan.cur = _Side(cur_prof[c], cur_ranks[c], cur_at[c])
        seen = set(plan.ref.at.values()) | set(plan.cur.at.values())
        if kinds[c] == "numeric" and len(seen) <= FEW_VALUES:
            # the percentiles show few values; count the distinct ones exactly
            r = ref.distinct(c, FEW_VALUES, numeric=True)
            k = None if r is None else cur.distinct(c, FEW_VALUES, numeric=True)
            if k is not None and len(set(r) | set(k)) <= FEW_VALUES:
                plan.kind, plan.numbers = "categorical", True
                plan.notes.append(f"{len(set(r) | set(k))} distinct values: compared as categories")
    # choose the method of each column now that its kind and size are known
    for c, plan in plans.items():
        n_ref = ref_prof[c]["n"] if plan.kind != "categorical" or plan.numbers else None
        if n_ref is None:
            n_ref = n_ref_total - ref_prof[c]["nulls"]
        plan.n_ref_values = n_ref
        plan.n_cur_values = (
            cur_prof[c]["n"]
            if plan.kind != "categorical" or plan.numbers
            else n_cur_total - cur_prof[c]["nulls"]
        )
        if n_ref and plan.n_cur_values:
            plan.method = _choose(plan.method_option, plan.kind, n_ref, c)
    # everything counted in bins: one engine pass per frame
    ref_edges: dict[str, np.ndarray] = {}
    cur_edges: dict[str, np.ndarray] = {}
    for c, plan in plans.items():
        if plan.kind == "categorical" or plan.ref is None or not hasattr(plan, "method"):
            continue
        deciles = _decile_edges(plan.ref)
        wanted = [deciles, _plot_edges(plan.ref, plan.cur)]
        if plan.method == "ks" and plan.ref.n <= SMALL_SAMPLE:
            plan.ref_values = ref.values(c)
            if plan.cur.n <= KS_EXACT_N:
                plan.cur_values = cur.values(c)
            else:
                r = np.unique(plan.ref_values)
                wanted += [r, np.nextafter(r, np.inf)]
        elif plan.method in ("wasserstein", "ks"):
            plan.cells = _cells(plan.ref, plan.cur)
        edges = np.unique(np.concatenate(wanted))
        ref_edges[c] = cur_edges[c] = edges
    for source, edges, side in ((ref, ref_edges, "ref"), (cur, cur_edges, "cur")):
        counted = source.bin_counts(edges) if edges else {}
        for c, counts in counted.items():
            below = np.cumsum(counts)[:-1]
            getattr(plans[c], side).below = dict(
                zip(edges[c].tolist(), below.tolist(), strict=True)
            )
    cells = {c: p.cells for c, p in plans.items() if p.cells is not None}
    if cells:
        ref_cells, cur_cells = ref.cell_counts(cells), cur.cell_counts(cells)
        for c in cells:
            plans[c].cdf = (_cdf_at_cells(ref_cells[c]), _cdf_at_cells(cur_cells[c]))
    out = []
    for c, plan in plans.items():
        out.append(_column(plan, ref, cur, ref_prof[c], cur_prof[c], n_ref_total, n_cur_total))
    return out


def _column(plan: _Plan, ref, cur, ref_prof, cur_prof, n_ref_total, n_cur_total) -> ColumnDrift:
    n_ref, n_cur = plan.n_ref_values, plan.n_cur_values
    col = ColumnDrift(
        column=plan.column,
        role=plan.role,
        kind=plan.kind,
        method=None,
        statistic=None,
        p_value=None,
        threshold=None,
        psi=0.0,
        n_reference=n_ref,
        n_current=n_cur,
        null_reference=1 - n_ref / n_ref_total if n_ref_total else 0.0,
        null_current=1 - n_cur / n_cur_total if n_cur_total else 0.0,
        notes=list(plan.notes),
    )
    if note_missing(col, n_ref, n_cur):
        return col
    col.method = plan.method
    col.threshold = (
        DEFAULT_THRESHOLDS[plan.method]
        if plan.threshold_option is None
        else float(plan.threshold_option)
    )
    if plan.kind == "categorical":
        _categorical(col, plan, ref, cur)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            _numeric(col, plan)
    if plan.method not in P_VALUE_METHODS:
        col.drifted = bool(col.statistic >= col.threshold)
    return col


def _numeric(col: ColumnDrift, plan: _Plan) -> None:
    ref, cur, method = plan.ref, plan.cur, plan.method
    edges = _decile_edges(ref)
    ref_counts, cur_counts = _counts(ref, edges), _counts(cur, edges)
    col.psi = stats.psi(ref_counts, cur_counts)
    if method == "ks":
        if plan.ref_values is not None and plan.cur_values is not None:
            col.statistic, col.p_value = stats.ks_test(plan.ref_values, plan.cur_values)
        elif plan.ref_values is not None:
            col.statistic = _ks_exact(plan.ref_values, cur)
            col.p_value = _ks_pvalue(col.statistic, ref.n, cur.n)
        elif plan.cdf is None:  # one value in both frames
            col.statistic, col.p_value = 0.0, 1.0
        else:
            low, high = _sup_bounds(*plan.cdf)
            col.statistic = (low + high) / 2
            col.p_value = _ks_pvalue(col.statistic, ref.n, cur.n)
            col.notes.append(
                f"approximate: KS statistic {_fmt(col.statistic)} ± {_fmt((high - low) / 2)} "
                f"(bounded from counts in {GRID_STEPS:,} equal cells)"
            )
    elif method == "wasserstein":
        if plan.cdf is None:  # one value in both frames
            estimate = low = high = 0.0
        else:
            estimate, low, high = _l1_bounds(plan.cells[1], *plan.cdf)
        scale = max(float(ref.profile["std"]), stats.WASSERSTEIN_MIN_STD)
        col.statistic = estimate / scale
        bound = max(estimate - low, high - estimate) / scale
        col.notes.append(
            f"approximate: Wasserstein {_fmt(col.statistic)} ± {_fmt(bound)} (bounded from "
            f"counts in {GRID_STEPS:,} equal cells)"
        )
        if low / scale < col.threshold <= high / scale:
            col.notes.append("the verdict is within the approximation bound of the threshold")
    elif method == "jensenshannon":
        col.statistic = stats.jensen_shannon(ref_counts, cur_counts)
    elif method == "chi2":
        col.statistic, col.p_value = stats.chi2_test(ref_counts, cur_counts)
    else:
        col.statistic = col.psi
    if ref.profile["min"] == ref.profile["max"]:
        col.notes.append(f"constant in reference ({_fmt(ref.profile['min'])})")
    if cur.profile["min"] == cur.profile["max"] and cur.n > 1:
        col.notes.append(f"constant in current ({_fmt(cur.profile['min'])})")
    col.plot = _numeric_plot(ref, cur)


def _categorical(col: ColumnDrift, plan: _Plan, ref, cur) -> None:
    import pandas as pd

    r_keys, r_counts = ref.value_counts(plan.column, numeric=plan.numbers)
    c_keys, c_counts = cur.value_counts(plan.column, numeric=plan.numbers)
    ref_s = pd.Series(r_counts, index=pd.Index(r_keys, dtype=object))
    cur_s = pd.Series(c_counts, index=pd.Index(c_keys, dtype=object))
    keys = ref_s.index.union(cur_s.index, sort=False)
    ref_counts = ref_s.reindex(keys, fill_value=0).to_numpy(dtype=float)
    cur_counts = cur_s.reindex(keys, fill_value=0).to_numpy(dtype=float)
    col.psi = stats.psi(ref_counts, cur_counts)
    if plan.method == "chi2":
        col.statistic, col.p_value = stats.chi2_test(ref_counts, cur_counts)
    elif plan.method == "jensenshannon":
        col.statistic = stats.jensen_shannon(ref_counts, cur_counts)
    else:
        col.statistic = col.psi
    unseen = [k for k, r, c in zip(keys, ref_counts, cur_counts, strict=True) if r == 0 and c > 0]
    if unseen:
        share = cur_counts[ref_counts == 0].sum() / max(cur_counts.sum(), 1)
        shown = ", ".join(map(str, unseen[:5])) + (" …" if len(unseen) > 5 else "")
        col.notes.append(
            f"{len(unseen)} categories unseen in reference ({shown}): {share:.1%} of current rows"
        )
    gone = int(((ref_counts > 0) & (cur_counts == 0)).sum())
    if gone:
        col.notes.append(f"{gone} reference categories absent from current")
    if (ref_counts > 0).sum() == 1:
        col.notes.append("constant in reference")
    col.plot = _categorical_plot(keys, ref_counts, cur_counts)


def check_columns(ref, cur, columns, roles: list[str], segments: list[str]) -> list[str]:
    """The feature columns to compare, as :func:`.drift._check_columns` picks them."""
    if segments:
        raise MonitoringError(
            "segments are computed on in-memory frames only: pass pandas DataFrames (for "
            "example a filtered sample) to rank segments"
        )
    ref_cols, cur_cols = ref.columns, cur.columns
    if columns is None:
        require_same_columns(ref_cols, cur_cols)
        chosen = [c for c in ref_cols if c not in roles]
    else:
        chosen = [str(c) for c in ([columns] if isinstance(columns, str) else columns)]
    problems = [
        f"{side} lacks {', '.join(map(repr, missing))}"
        for side, cols in (("reference", ref_cols), ("current", cur_cols))
        if (missing := [c for c in [*chosen, *roles] if c not in cols])
    ]
    if problems:
        raise MonitoringError("; ".join(problems))
    if not chosen and not roles:
        raise MonitoringError("no columns to compare")
    return chosen


__all__ = ["check_columns", "drift_columns"]
