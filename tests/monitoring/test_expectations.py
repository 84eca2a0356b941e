"""Expectations learned from a reference, edited, checked, saved and round-tripped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbmlops
from nbmlops.errors import MonitoringError, SchemaViolation
from nbmlops.monitoring import Expectations


@pytest.fixture
def reference():
    rng = np.random.default_rng(0)
    n = 1000
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "age": rng.integers(18, 90, n),
            "income": np.where(rng.random(n) < 0.02, np.nan, rng.normal(50, 10, n)),
            "country": pd.Categorical(rng.choice(["FR", "DE", "US"], n)),
            "signup": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n), unit="h"),
        }
    )


def test_inferred_expectations(reference):
    suite = nbmlops.expectations_from(reference)
    assert list(suite.columns_) == list(reference.columns)
    assert suite["id"].unique and suite["id"].dtype == "integer"
    assert (suite["age"].min, suite["age"].max) == (reference["age"].min(), reference["age"].max())
    assert suite["income"].max_null_share == pytest.approx(reference["income"].isna().mean() + 0.05)
    assert suite["country"].allowed == ["DE", "FR", "US"]
    assert suite["signup"].dtype == "datetime"
    assert not suite["age"].unique
    assert nbmlops.validate(reference, suite).passed


def test_failures_have_observed_values_counts_and_examples(reference):
    suite = nbmlops.expectations_from(reference)
    bad = reference.copy()
    bad.loc[:4, "age"] = [-1, 200, 30, 150, 40]
    bad["country"] = bad["country"].astype(str)
    bad.loc[10:12, "country"] = "IT"
    bad.loc[:299, "income"] = np.nan
    bad.loc[20, "id"] = 21
    result = nbmlops.validate(bad, suite)
    assert not result.passed and not bool(result)
    failures = result.failures.set_index(["column", "check"])
    assert failures.loc[("age", "range"), "failing_count"] == 3
    assert failures.loc[("age", "range"), "examples"] == [-1, 200, 150]
    assert failures.loc[("country", "allowed values"), "failing_count"] == 3
    assert failures.loc[("country", "allowed values"), "examples"] == ["IT"]
    assert failures.loc[("income", "null share"), "observed"] == pytest.approx(
        bad["income"].isna().mean()
    )
    assert failures.loc[("income", "null share"), "failing_count"] == bad["income"].isna().sum()
    assert failures.loc[("id", "unique"), "failing_count"] == 2
    assert len(result.failures) == 4
    assert "FAILED" in repr(result) and "IT" in repr(result)
    assert "<table>" in result._repr_html_()


def test_raise_on_failure_is_a_schema_violation_naming_everything(reference):
    suite = nbmlops.expectations_from(reference)
    bad = reference.drop(columns=["income"]).assign(age=reference["age"].astype(str))
    with pytest.raises(SchemaViolation) as info:
        nbmlops.validate(bad, suite, raise_on_failure=True)
    assert info.value.missing == ["income"]
    assert list(info.value.mistyped) == ["age"]
    assert "income: present" in str(info.value) and "age: dtype" in str(info.value)


def test_edits_are_respected(reference):
    suite = nbmlops.expectations_from(reference)
    suite["age"].min, suite["age"].max = 0, 120
    suite["country"].allowed = None
    suite["age"].max_out_of_range_share = 0.01
    newer = reference.assign(age=reference["age"] + 40)  # some above 120
    newer["country"] = "IT"
    result = nbmlops.validate(newer, suite)
    failures = result.failures
    assert list(failures["check"]) == ["range"]  # country no longer checked
    suite["age"].max_out_of_range_share = 0.5
    assert nbmlops.validate(newer, suite).passed


def test_json_and_yaml_round_trip(reference, tmp_path):
    suite = nbmlops.expectations_from(reference)
    suite["age"].min = 0
    for path, writer, reader in (
        (tmp_path / "e.json", suite.to_json, Expectations.from_json),
        (tmp_path / "e.yaml", suite.to_yaml, Expectations.from_yaml),
    ):
        assert writer(path) is None  # like pandas: written, not returned
        assert path.read_text() == writer()
        again = reader(path)
        assert {k: v.to_dict() for k, v in again.columns_.items()} == {
            k: v.to_dict() for k, v in suite.columns_.items()
        }
        assert again.get_params() == suite.get_params()
        assert reader(path.read_text()).columns_.keys() == suite.columns_.keys()
    with pytest.raises(MonitoringError, match="unknown expectation fields"):
        Expectations.from_dict({"columns": [{"name": "a", "bogus": 1}]})
    with pytest.raises(MonitoringError, match="not an expectations document"):
        Expectations.from_dict({"nothing": []})


def test_saved_in_the_workspace_and_linked(workspace, reference):
    suite = nbmlops.expectations_from(reference)
    with nbmlops.start_run(name="profile") as run:
        first = suite.save("customers")
    suite["age"].max = 200
    second = suite.save("customers", run=run.run_id)
    assert second > first
    loaded = nbmlops.load_expectations("customers")
    assert loaded["age"].max == 200  # the newest version
    assert nbmlops.validate(reference, "customers").passed
    assert "expectations/customers.json" in run.artifacts
    with pytest.raises(MonitoringError, match="no saved expectations named 'other'"):
        nbmlops.load_expectations("other")


def test_sklearn_conventions_and_errors(reference):
    unfitted = Expectations(null_tolerance=0.1)
    assert unfitted.get_params()["null_tolerance"] == 0.1
    assert unfitted.set_params(max_categories=3) is unfitted
    with pytest.raises(MonitoringError, match="not fitted"):
        unfitted.validate(reference)
    assert unfitted.fit(reference) is unfitted
    assert unfitted["country"].allowed == ["DE", "FR", "US"]
    with pytest.raises(MonitoringError, match="no parameter"):
        unfitted.set_params(nope=1)
    with pytest.raises(MonitoringError, match="quantile_band"):
        Expectations(quantile_band=(0.9, 0.1)).fit(reference)
    with pytest.raises(MonitoringError):
        nbmlops.validate(reference.to_numpy(), unfitted)
    with pytest.raises(MonitoringError):
        nbmlops.validate(reference, 42)  # type: ignore[arg-type]
    band = Expectations(quantile_band=(0.05, 0.95)).fit(reference)
    share = nbmlops.validate(reference, band).failures.set_index("column").loc["age"]
    assert share["failing_count"] > 0  # the tails are outside a 5-95% band


def test_to_pandera_when_installed(reference):
    # pandera refuses to import beside pandas < 2.1.1 (the lower-bounds CI run): skip there.
    pandera = pytest.importorskip("pandera.pandas", exc_type=ImportError)
    schema = nbmlops.expectations_from(reference.drop(columns=["signup"])).to_pandera()
    assert isinstance(schema, pandera.DataFrameSchema)
    schema.validate(reference.drop(columns=["signup"]))


_cells = st.one_of(
    st.none(),
    st.integers(-100, 100),
    st.floats(allow_nan=True),
    st.sampled_from(["a", "b", ""]),
    st.booleans(),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.lists(_cells, min_size=2, max_size=2), min_size=0, max_size=20),
    st.lists(st.lists(_cells, min_size=2, max_size=2), min_size=0, max_size=20),
)
def test_random_frames_validate_without_crashing(ref_rows, new_rows):
    ref = pd.DataFrame(ref_rows, columns=["a", "b"])
    new = pd.DataFrame(new_rows, columns=["a", "b"])
    suite = nbmlops.expectations_from(ref)
    result = nbmlops.validate(new, suite)
    assert set(result.table.columns) == set(result.COLUMNS)
    if not result.passed:
        with pytest.raises(SchemaViolation):
            nbmlops.validate(new, suite, raise_on_failure=True)
