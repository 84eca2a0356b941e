"""``drift_report``: test choice, corrections, edge cases, segments, performance."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats as sp

import nbmlops
from nbmlops.errors import MonitoringError
from nbmlops.monitoring import stats


def frames(n_ref=3000, n_cur=3000, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)

    def one(n, s):
        return pd.DataFrame(
            {
                "income": rng.normal(50 + s * 10, 10, n),
                "age": rng.integers(18, 90, n),
                "country": pd.Categorical(
                    rng.choice(["FR", "DE", "US"], n, p=[0.2, 0.4, 0.4] if s else [0.4, 0.3, 0.3])
                ),
            }
        )

    return one(n_ref, 0.0), one(n_cur, shift)


def test_small_samples_use_ks_and_chi2_with_scipy_p_values():
    ref, cur = frames(400, 300, shift=0.5)
    report = nbmlops.drift_report(ref, cur, correction=None)
    income = report.column("income")
    assert income["method"] == "ks"
    expected = sp.ks_2samp(ref["income"], cur["income"])
    assert income["p_value"] == pytest.approx(expected.pvalue, abs=1e-9)
    assert income["statistic"] == pytest.approx(expected.statistic, abs=1e-9)
    country = report.column("country")
    assert country["method"] == "chi2"
    table = pd.crosstab(
        np.r_[np.zeros(len(ref)), np.ones(len(cur))],
        np.r_[ref["country"].astype(str), cur["country"].astype(str)],
    )
    assert country["p_value"] == pytest.approx(sp.chi2_contingency(table).pvalue, abs=1e-9)


def test_large_samples_use_wasserstein_and_jensen_shannon():
    ref, cur = frames(5000, 4000, shift=0.5)
    report = nbmlops.drift_report(ref, cur)
    income = report.column("income")
    assert income["method"] == "wasserstein"
    expected = sp.wasserstein_distance(ref["income"], cur["income"]) / np.std(ref["income"])
    assert income["statistic"] == pytest.approx(expected, rel=1e-9)
    assert income["drifted"] and income["p_value"] is None
    country = report.column("country")
    assert country["method"] == "jensenshannon" and country["drifted"]
    assert set(report.drifted_columns) == {"income", "country"}
    assert report.dataset_drift  # 2 of 3 columns
    assert not report.column("age")["drifted"]


def test_identical_frames_show_no_drift():
    ref, _ = frames()
    report = nbmlops.drift_report(ref, ref.copy())
    assert report.drifted_columns == [] and not report.dataset_drift
    assert all(c["psi"] == pytest.approx(0.0, abs=1e-12) for c in report.columns)
    assert report.explain() == "no column drifted"


def test_benjamini_hochberg_is_applied_across_p_value_columns():
    ref, cur = frames(300, 300, shift=0.3)
    raw = nbmlops.drift_report(ref, cur, correction=None).summary.set_index("column")
    corrected = nbmlops.drift_report(ref, cur).summary.set_index("column")
    expected = stats.adjust_pvalues(raw["p_value"].to_numpy(), "fdr_bh")
    np.testing.assert_allclose(corrected["p_adjusted"].to_numpy(), expected)
    assert (corrected["drifted"] == (corrected["p_adjusted"] < 0.05)).all()


def test_methods_and_thresholds_forced_per_column():
    ref, cur = frames(5000, 5000, shift=0.2)
    report = nbmlops.drift_report(
        ref, cur, method={"income": "ks", "country": "psi"}, threshold={"income": 1e-300}
    )
    income = report.column("income")
    assert income["method"] == "ks" and income["threshold"] == 1e-300
    country = report.column("country")
    assert country["method"] == "psi" and country["statistic"] == pytest.approx(country["psi"])
    assert country["threshold"] == 0.2
    everything = nbmlops.drift_report(ref, cur, method="psi", threshold=0.5)
    assert {c["method"] for c in everything.columns} == {"psi"}
    assert {c["threshold"] for c in everything.columns} == {0.5}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "magic"}, "unknown method"),
        ({"method": {"country": "ks"}}, "needs numbers"),
        ({"method": {"nope": "ks"}}, "not compared"),
        ({"threshold": -1}, "positive number"),
        ({"threshold": "high"}, "positive number"),
        ({"correction": "holm-ish"}, "unknown correction"),
        ({"columns": ["income", "missing"]}, "lacks 'missing'"),
        ({"segments": ["nope"]}, "lacks 'nope'"),
        ({"target": "nope"}, "lacks 'nope'"),
        ({"categorical": ["nope"]}, "not compared"),
        ({"drift_share": 0}, "drift_share"),
    ],
)
def test_bad_options_are_clear_errors(kwargs, message):
    ref, cur = frames(100, 100)
    with pytest.raises(MonitoringError, match=message):
        nbmlops.drift_report(ref, cur, **kwargs)


def test_different_column_sets_name_the_columns():
    ref, cur = frames(100, 100)
    with pytest.raises(MonitoringError) as info:
        nbmlops.drift_report(ref.assign(extra=1), cur.drop(columns=["age"]))
    text = str(info.value)
    assert "only in reference: 'extra', 'age'" in text or (
        "'extra'" in text and "'age'" in text and "only in reference" in text
    )
    assert "columns=[...]" in text
    shared = nbmlops.drift_report(
        ref.assign(extra=1), cur.drop(columns=["age"]), columns=["income", "country"]
    )
    assert [c["column"] for c in shared.columns] == ["income", "country"]
    with pytest.raises(MonitoringError, match="DataFrame"):
        nbmlops.drift_report(ref.to_numpy(), cur)


def test_nans_are_left_out_and_their_share_change_is_explained():
    ref, cur = frames(2000, 2000)
    cur.loc[cur.index[:600], "income"] = np.nan
    report = nbmlops.drift_report(ref, cur)
    income = report.column("income")
    assert income["n_current"] == 1400 and income["null_current"] == pytest.approx(0.3)
    assert income["null_shift"] and "missing values 0.0% → 30.0%" in income["notes"]
    expected = sp.wasserstein_distance(ref["income"], cur["income"].dropna())
    assert income["statistic"] == pytest.approx(expected / np.std(ref["income"]), rel=1e-9)


def test_all_null_columns_are_handled_not_crashed():
    ref, cur = frames(50, 50)
    both = nbmlops.drift_report(ref.assign(x=np.nan), cur.assign(x=np.nan)).column("x")
    assert both["method"] is None and not both["drifted"]
    assert "all values missing in both frames" in both["notes"][0]
    gone = nbmlops.drift_report(ref.assign(x=1.0), cur.assign(x=np.nan)).column("x")
    assert gone["drifted"] and "all values missing in current" in "; ".join(gone["notes"])
    new = nbmlops.drift_report(ref.assign(x=np.nan), cur.assign(x=1.0)).column("x")
    assert new["drifted"] and "missing in reference" in "; ".join(new["notes"])


def test_constant_columns():
    ref, cur = frames(2000, 2000)
    same = nbmlops.drift_report(ref.assign(k=7.0), cur.assign(k=7.0)).column("k")
    assert not same["drifted"]
    moved = nbmlops.drift_report(ref.assign(k=7.0), cur.assign(k=8.0)).column("k")
    assert moved["drifted"]
    # Few distinct values: compared as categories, with a note saying so.
    assert "compared as categories" in "; ".join(moved["notes"])
    # A constant reference against a spread-out current stays numeric and says so.
    spread = cur.assign(k=np.linspace(0, 10, 2000))
    flat = nbmlops.drift_report(ref.assign(k=3.0), spread).column("k")
    assert flat["kind"] == "numeric" and flat["method"] == "wasserstein" and flat["drifted"]
    assert "constant in reference (3)" in flat["notes"]


def test_single_row_frames():
    ref, cur = frames(1, 1)
    report = nbmlops.drift_report(ref, cur)
    assert len(report.columns) == 3
    assert all(c["method"] is not None for c in report.columns)


def test_unseen_categories_are_named():
    ref, cur = frames(3000, 3000)
    cur["country"] = cur["country"].astype(str)
    cur.loc[cur.index[:300], "country"] = "IT"
    country = nbmlops.drift_report(ref, cur).column("country")
    notes = "; ".join(country["notes"])
    assert "1 categories unseen in reference (IT): 10.0% of current rows" in notes
    assert "IT" in country["plot"]["categories"]


def test_mixed_dtypes_bool_and_datetime():
    rng = np.random.default_rng(5)
    n = 500
    ref = pd.DataFrame(
        {
            "mixed": pd.Series([1, "1", 2.5, None, "x"] * (n // 5), dtype=object),
            "flag": rng.random(n) < 0.3,
            "when": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 86400 * 30, n), unit="s"),
        }
    )
    cur = ref.copy()
    cur["flag"] = rng.random(n) < 0.8
    cur["when"] = cur["when"] + pd.Timedelta(days=60)
    report = nbmlops.drift_report(ref, cur)
    mixed = report.column("mixed")
    assert mixed["kind"] == "categorical" and not mixed["drifted"]
    assert set(mixed["plot"]["categories"]) == {"1", "'1'", "2.5", "x"}
    flag = report.column("flag")
    assert flag["kind"] == "categorical" and flag["drifted"]
    when = report.column("when")
    assert when["kind"] == "datetime" and when["drifted"]
    assert "seconds since 1970" in "; ".join(when["notes"])
    with pytest.raises(MonitoringError, match="datetime in one frame"):
        nbmlops.drift_report(ref, cur.assign(when=1.0))


def test_numbers_in_one_frame_and_strings_in_the_other():
    ref, cur = frames(200, 200)
    report = nbmlops.drift_report(ref, cur.assign(age=cur["age"].astype(str)))
    age = report.column("age")
    assert age["kind"] == "categorical"
    assert "dtypes differ" in "; ".join(age["notes"])


def test_segment_attribution_finds_the_segment_that_moved():
    rng = np.random.default_rng(7)
    n = 20000
    ref = pd.DataFrame(
        {
            "country": rng.choice(["FR", "DE", "US", "ES"], n, p=[0.38, 0.3, 0.22, 0.1]),
            "income": rng.normal(50, 10, n),
        }
    )
    cur = ref.copy()
    cur["income"] = rng.normal(50, 10, n)
    fr = (cur["country"] == "FR").to_numpy()
    cur.loc[fr, "income"] += 12
    report = nbmlops.drift_report(ref, cur, segments=["country"])
    income = report.column("income")
    assert income["drifted"]
    top = income["segments"][0]
    assert (top["segment"], top["value"]) == ("country", "FR")
    assert top["rows_current"] == pytest.approx(fr.mean())
    assert top["share_of_psi"] > 0.8
    total = sum(s["contribution"] for s in income["segments"])
    assert total == pytest.approx(income["psi"], rel=0.05)
    sentence = report.explain("income")
    assert "driven by country=FR (38% of rows" in sentence
    frame = report.segments("income")
    assert list(frame["value"])[0] == "FR"
    assert "country=FR" in report.summary.set_index("column").loc["income", "top_segment"]


def test_segment_attribution_on_a_categorical_column():
    rng = np.random.default_rng(8)
    n = 10000
    ref = pd.DataFrame(
        {"region": rng.choice(["north", "south"], n), "plan": rng.choice(["a", "b", "c"], n)}
    )
    cur = ref.copy()
    south = (cur["region"] == "south").to_numpy()
    cur.loc[south, "plan"] = "c"
    report = nbmlops.drift_report(ref, cur, segments="region")
    plan = report.column("plan")
    assert plan["drifted"] and plan["segments"][0]["value"] == "south"


def test_target_prediction_and_performance_drift_classification():
    rng = np.random.default_rng(9)
    n = 4000
    ref = pd.DataFrame({"x": rng.normal(size=n)})
    ref["y"] = (ref["x"] > 0).astype(int)
    ref["score"] = 1 / (1 + np.exp(-3 * ref["x"]))
    cur = pd.DataFrame({"x": rng.normal(0.5, 1, n)})
    cur["y"] = (cur["x"] + rng.normal(0, 1, n) > 0).astype(int)  # labels got noisier
    cur["score"] = 1 / (1 + np.exp(-3 * cur["x"]))
    report = nbmlops.drift_report(ref, cur, target="y", prediction="score")
    assert [c["column"] for c in report.features] == ["x"]
    assert report.target_drift["column"] == "y"
    assert report.prediction_drift["column"] == "score"
    perf = report.performance_table.set_index("metric")
    assert report.performance["task"] == "classification"
    assert report.performance["prediction_is_score"]
    assert list(perf.index) == ["accuracy", "precision", "recall", "f1", "roc_auc"]
    from sklearn import metrics as m

    assert perf.loc["roc_auc", "reference"] == pytest.approx(
        m.roc_auc_score(ref["y"], ref["score"])
    )
    assert perf.loc["accuracy", "current"] == pytest.approx(
        m.accuracy_score(cur["y"], (cur["score"] >= 0.5).astype(int))
    )
    assert perf.loc["accuracy", "change"] < -0.1


def test_performance_drift_regression():
    rng = np.random.default_rng(10)
    n = 3000
    ref = pd.DataFrame({"y": rng.normal(size=n)})
    ref["pred"] = ref["y"] + rng.normal(0, 0.1, n)
    cur = pd.DataFrame({"y": rng.normal(size=n)})
    cur["pred"] = cur["y"] + rng.normal(0, 0.5, n)
    perf = nbmlops.drift_report(ref, cur, target="y", prediction="pred").performance_table
    perf = perf.set_index("metric")
    assert list(perf.index) == ["mae", "rmse", "r2"]
    assert perf.loc["rmse", "reference"] == pytest.approx(
        math.sqrt(np.mean((ref["y"] - ref["pred"]) ** 2))
    )
    assert perf.loc["r2", "change"] < 0


def test_summary_is_sorted_by_drift_then_psi():
    ref, cur = frames(5000, 5000, shift=0.5)
    summary = nbmlops.drift_report(ref, cur).summary
    assert list(summary.columns[:4]) == ["column", "role", "kind", "method"]
    drifted = summary[summary["drifted"]]
    assert list(summary.index[: len(drifted)]) == list(drifted.index)
    assert drifted["psi"].is_monotonic_decreasing


_values = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=40),
    st.lists(st.integers(-5, 5), min_size=0, max_size=40),
    st.lists(st.sampled_from(["a", "b", "<c>", None]), min_size=0, max_size=40),
    st.lists(st.booleans(), min_size=0, max_size=40),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref=_values, cur=_values)
def test_random_columns_never_crash(ref, cur):
    reference = pd.DataFrame({"v": pd.Series(ref, dtype=object if not ref else None)})
    current = pd.DataFrame({"v": pd.Series(cur, dtype=object if not cur else None)})
    try:
        report = nbmlops.drift_report(reference, current)
    except MonitoringError:
        return  # a clear refusal (e.g. datetime against numbers) is fine
    column = report.column("v")
    assert isinstance(column["drifted"], bool)
    assert math.isfinite(column["psi"]) or column["method"] is None
    report.to_json()
    report.to_html(plotlyjs="cdn")
