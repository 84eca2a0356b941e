"""The drift statistics equal scipy's and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sp
from scipy.spatial import distance

from nbmlops.errors import MonitoringError
from nbmlops.monitoring import stats


@pytest.mark.parametrize(("n_ref", "n_cur"), [(1, 1), (5, 9), (200, 200), (1000, 731)])
def test_ks_matches_scipy(n_ref, n_cur):
    rng = np.random.default_rng(n_ref)
    ref, cur = rng.normal(size=n_ref), rng.normal(0.2, 1.3, size=n_cur)
    statistic, pvalue = stats.ks_test(np.sort(ref), np.sort(cur))
    expected = sp.ks_2samp(ref, cur)
    assert statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert pvalue == pytest.approx(expected.pvalue, abs=1e-9)


def test_chi2_matches_scipy_contingency():
    ref, cur = np.array([30, 50, 20, 0]), np.array([10, 40, 45, 5])
    statistic, pvalue = stats.chi2_test(ref, cur)
    expected = sp.chi2_contingency(np.array([ref, cur]))
    assert statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert pvalue == pytest.approx(expected.pvalue, abs=1e-9)
    # A category absent from both frames is dropped, not a division by zero.
    assert stats.chi2_test(np.array([5, 5, 0]), np.array([4, 6, 0])) == pytest.approx(
        stats.chi2_test(np.array([5, 5]), np.array([4, 6]))
    )
    assert stats.chi2_test(np.array([7]), np.array([3])) == (0.0, 1.0)


@settings(max_examples=80, deadline=None)
@given(
    ref=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60),
    cur=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60),
)
def test_wasserstein_matches_scipy_on_any_sample(ref, cur):
    expected = sp.wasserstein_distance(ref, cur)
    got = stats.wasserstein(np.sort(ref), np.sort(cur))
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_wasserstein_hand_computed_and_normalized():
    # Moving every point of {0, 1} by 2 costs 2.
    assert stats.wasserstein(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == pytest.approx(2.0)
    # {0} against {0, 0, 3}: a third of the mass moves 3 → 1.
    assert stats.wasserstein(np.array([0.0]), np.array([0.0, 0.0, 3.0])) == pytest.approx(1.0)
    ref = np.array([0.0, 2.0])  # std 1
    assert stats.wasserstein_normalized(ref, ref + 0.5) == pytest.approx(0.5)
    constant = np.zeros(4)  # std 0: divided by the 0.001 floor
    assert stats.wasserstein_normalized(constant, constant + 1) == pytest.approx(1000.0)


def test_psi_hand_computed():
    ref, cur = np.array([50, 50]), np.array([25, 75])
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert stats.psi(ref, cur) == pytest.approx(expected)
    assert stats.psi(ref, ref) == 0.0
    # An empty bin is floored at 0.0001 instead of making PSI infinite.
    floored = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + (1.0 - 0.5) * math.log(1.0 / 0.5)
    assert stats.psi(np.array([5, 5]), np.array([0, 10])) == pytest.approx(floored)
    assert stats.psi_terms(ref, cur).sum() == pytest.approx(stats.psi(ref, cur))


def test_jensen_shannon_hand_computed_and_scipy():
    # Disjoint distributions: JS divergence is ln 2, the distance its square root.
    assert stats.jensen_shannon(np.array([1, 0]), np.array([0, 1])) == pytest.approx(
        math.sqrt(math.log(2))
    )
    assert stats.jensen_shannon(np.array([3, 1]), np.array([6, 2])) == pytest.approx(0.0)
    ref, cur = np.array([10, 20, 30]), np.array([30, 20, 10])
    assert stats.jensen_shannon(ref, cur) == pytest.approx(
        distance.jensenshannon(ref / 60, cur / 60), abs=1e-12
    )


def test_benjamini_hochberg_known_values():
    # The worked example of Benjamini & Hochberg's step-up procedure, as statsmodels gives it.
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    expected = np.array([0.025, 0.05, 0.05, 0.025, 0.5])
    np.testing.assert_allclose(stats.adjust_pvalues(p, "fdr_bh"), expected, atol=1e-12)
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    expected = np.array(
        [0.01, 0.04, 0.084, 0.084, 0.084, 0.1, 0.10571428571428572, 0.216, 0.216, 0.216]
    )
    np.testing.assert_allclose(stats.adjust_pvalues(p, "fdr_bh"), expected, atol=1e-12)
    with_nan = stats.adjust_pvalues(np.array([0.01, np.nan, 0.04]), "fdr_bh")
    assert math.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2]], [0.02, 0.04])
    np.testing.assert_allclose(
        stats.adjust_pvalues(np.array([0.01, 0.6]), "bonferroni"), [0.02, 1.0]
    )
    np.testing.assert_allclose(stats.adjust_pvalues(np.array([0.01, 0.6]), None), [0.01, 0.6])
    with pytest.raises(MonitoringError, match="unknown correction"):
        stats.adjust_pvalues(np.array([0.1]), "holm-ish")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_bh_is_monotone_and_bounded(pvalues):
    p = np.array(pvalues)
    adjusted = stats.adjust_pvalues(p, "fdr_bh")
    assert np.all(adjusted >= p - 1e-12) and np.all(adjusted <= 1.0)
    order = np.argsort(p)
    assert np.all(np.diff(adjusted[order]) >= -1e-12)


def test_sorted_quantile_equals_numpy():
    values = np.sort(np.random.default_rng(3).normal(size=501))
    qs = np.linspace(0, 1, 37)
    np.testing.assert_allclose(stats.sorted_quantile(values, qs), np.quantile(values, qs))
    assert stats.sorted_quantile(values, 0.5) == pytest.approx(np.median(values))


def test_bins_count_every_value_once():
    values = np.sort(np.random.default_rng(4).normal(size=1000))
    edges = stats.quantile_edges(values)
    counts = stats.bin_counts(values, edges)
    assert counts.sum() == 1000 and len(counts) == len(edges) + 1
    assert np.all(np.abs(counts - 100) <= 1)
