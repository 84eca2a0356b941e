"""The drift statistics, vectorized: two-sample tests, distances and multiple-testing control.

Numeric columns work on *sorted* value arrays: one sort per column and frame serves the
Wasserstein distance, PSI bins, histograms and the ECDF. p-value tests call scipy directly, so
their results are scipy's.

Conventions (shared with Evidently, so verdicts can be compared):

- Wasserstein distance is normalized by the reference standard deviation (at least 0.001);
- Jensen-Shannon is scipy's ``jensenshannon`` *distance* (natural log) of category shares;
- PSI = Σ (c − r)·ln(c / r) over bins (numeric: reference deciles; categorical: categories),
  with shares floored at 0.0001 so an empty bin does not make it infinite.
"""

from __future__ import annotations

import numpy as np

PSI_EPS = 1e-4
WASSERSTEIN_MIN_STD = 0.001
PSI_BINS = 10


# -- p-value tests -----------------------------------------------------------------------------


def ks_test(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov: ``(statistic, p-value)`` from ``scipy.stats.ks_2samp``."""
    import warnings

    from scipy import stats

    with warnings.catch_warnings():
        # scipy notes when it falls back from the exact to the asymptotic p-value; both are
        # scipy's own answer.
        warnings.filterwarnings("ignore", "ks_2samp: Exact calculation", RuntimeWarning)
        result = stats.ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def chi2_test(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity on the 2 × k table of category counts.

    ``scipy.stats.chi2_contingency`` (no continuity correction beyond scipy's default for
    2 × 2). Categories absent from both frames are dropped; with one category left the
    distributions cannot differ: ``(0.0, 1.0)``.
    """
    from scipy import stats

    table = np.vstack([reference_counts, current_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    statistic, pvalue, _dof, _expected = stats.chi2_contingency(table)
    return float(statistic), float(pvalue)


# -- distances ---------------------------------------------------------------------------------


def wasserstein(reference_sorted: np.ndarray, current_sorted: np.ndarray) -> float:
    """Wasserstein-1 distance of two samples given *sorted* (ascending, no NaN).

    Computed from the quantile functions, W1 = ∫₀¹ |F⁻¹_ref(t) − F⁻¹_cur(t)| dt, which for
    sorted samples is linear time: the mean absolute difference for equal sizes, else a sum
    over the merged steps i/n_ref and j/n_cur. Equal to scipy's ``wasserstein_distance``.
    """
    u, v = reference_sorted, current_sorted
    nu, nv = len(u), len(v)
    if nu == nv:
        return float(np.mean(np.abs(u - v)))
    steps = np.concatenate([np.arange(1, nu) / nu, np.arange(1, nv) / nv])
    steps.sort(kind="stable")  # two sorted runs: a linear merge
    edges = np.concatenate([[0.0], steps, [1.0]])
    middle = (edges[:-1] + edges[1:]) / 2
    at_u = np.minimum((middle * nu).astype(np.int64), nu - 1)
    at_v = np.minimum((middle * nv).astype(np.int64), nv - 1)
    return float(np.sum(np.diff(edges) * np.abs(u[at_u] - v[at_v])))


def wasserstein_normalized(reference_sorted: np.ndarray, current_sorted: np.ndarray) -> float:
    """Wasserstein-1 divided by the reference standard deviation (floored at 0.001)."""
    with np.errstate(over="ignore", invalid="ignore"):  # values near 1e308 overflow
        scale = max(float(np.std(reference_sorted)), WASSERSTEIN_MIN_STD)
        return wasserstein(reference_sorted, current_sorted) / scale


def shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros(len(counts), dtype=float)


def jensen_shannon(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (scipy's, natural log) between two count vectors."""
    from scipy.spatial import distance

    value = distance.jensenshannon(shares(reference_counts), shares(current_counts))
    return float(value) if np.isfinite(value) else 0.0


def psi_terms(reference_counts: np.ndarray, current_counts: np.ndarray) -> np.ndarray:
    """Per-bin terms of the Population Stability Index (their sum is the PSI)."""
    r = np.maximum(shares(reference_counts), PSI_EPS)
    c = np.maximum(shares(current_counts), PSI_EPS)
    return (c - r) * np.log(c / r)


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Population Stability Index of two count vectors over the same bins."""
    return float(psi_terms(reference_counts, current_counts).sum())


def sorted_quantile(values_sorted: np.ndarray, q):
    """``np.quantile(values, q)`` (linear interpolation) for an already sorted array, without
    the partition numpy would do again."""
    n = len(values_sorted)
    position = np.asarray(q, dtype=float) * (n - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, n - 1)
    fraction = position - low
    out = values_sorted[low] + (values_sorted[high] - values_sorted[low]) * fraction
    return float(out) if np.ndim(out) == 0 else out


# -- binning -----------------------------------------------------------------------------------


def quantile_edges(reference_sorted: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Inner bin edges at the reference quantiles (duplicates removed): ``bins`` equal bins."""
    if len(reference_sorted) == 0:
        return np.array([], dtype=float)
    qs = np.linspace(0, 1, bins + 1)[1:-1]
    positions = np.minimum((qs * len(reference_sorted)).astype(int), len(reference_sorted) - 1)
    return np.unique(reference_sorted[positions])


def bin_counts(values_sorted: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """Counts of sorted values in ``(-inf, e0), [e0, e1), … [e_last, inf)``."""
    cuts = np.searchsorted(values_sorted, inner_edges, side="left")
    bounds = np.concatenate([[0], cuts, [len(values_sorted)]])
    return np.diff(bounds)


# -- multiple testing --------------------------------------------------------------------------


def adjust_pvalues(pvalues: np.ndarray, method: str | None) -> np.ndarray:
    """Adjusted p-values: ``fdr_bh`` (Benjamini-Hochberg), ``bonferroni``, or None/``none``.

    NaN entries (columns without a p-value test) stay NaN and do not count as tests.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    mask = ~np.isnan(p)
    m = int(mask.sum())
    if m == 0:
        return out
    valid = p[mask]
    if method in (None, "none"):
        adjusted = valid
    elif method == "bonferroni":
        adjusted = np.minimum(valid * m, 1.0)
    elif method == "fdr_bh":
        order = np.argsort(valid)
        ranked = valid[order] * m / np.arange(1, m + 1)
        # Step-up: each adjusted value is the minimum over itself and all larger ranks.
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(ranked, 1.0)
    else:
        from ..errors import MonitoringError

        raise MonitoringError(
            f"unknown correction {method!r}: use 'fdr_bh' (default), 'bonferroni' or None"
        )
    out[mask] = adjusted
    return out
