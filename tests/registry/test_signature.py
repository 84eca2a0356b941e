"""The signature check stands between bad data and a model: it names what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import nbmlops
from nbmlops.errors import SchemaViolation
from nbmlops.registry import Signature
from nbmlops.registry.signature import dtype_family


@pytest.fixture
def flowers():
    X, y = load_iris(return_X_y=True, as_frame=True)
    X = X.copy()
    X["size"] = pd.Categorical(np.where(X["petal length (cm)"] > 4, "big", "small"))
    X["count"] = np.arange(len(X), dtype="int64")
    return X, y


@pytest.fixture
def model_version(workspace, flowers):
    X, y = flowers
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["size"]), remainder="passthrough"),
        LogisticRegression(max_iter=2000),
    ).fit(X, y)
    return nbmlops.register_model(model, "flowers", input_example=X), model


def test_matching_data_predicts_like_the_model(model_version, flowers):
    mv, model = model_version
    X, _ = flowers
    np.testing.assert_array_equal(mv.predict(X), model.predict(X))
    shuffled = X[list(reversed(X.columns))].assign(extra=1)  # order and extras do not matter
    np.testing.assert_array_equal(mv.predict(shuffled), model.predict(X))


def test_missing_column_is_named(model_version, flowers):
    mv, _ = model_version
    X, _ = flowers
    with pytest.raises(SchemaViolation) as info:
        mv.predict(X.drop(columns=["sepal width (cm)"]))
    assert info.value.missing == ["sepal width (cm)"]
    assert "missing columns: 'sepal width (cm)'" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_wrong_dtype_is_named(model_version, flowers):
    mv, _ = model_version
    X, _ = flowers
    bad = X.assign(**{"petal width (cm)": X["petal width (cm)"].astype(str)})
    with pytest.raises(SchemaViolation) as info:
        mv.predict(bad)
    assert list(info.value.mistyped) == ["petal width (cm)"]
    assert info.value.mistyped["petal width (cm)"][0] == "float64"
    assert "'petal width (cm)' is" in str(info.value) and "expected float64" in str(info.value)


def test_integer_where_float_was_trained_is_fine_but_not_the_reverse(model_version, flowers):
    mv, model = model_version
    X, _ = flowers
    as_int = X.assign(**{"sepal length (cm)": X["sepal length (cm)"].round().astype(int)})
    np.testing.assert_array_equal(mv.predict(as_int), model.predict(as_int))
    with pytest.raises(SchemaViolation, match="'count' is float64, expected int64"):
        mv.predict(X.assign(count=X["count"].astype(float)))


def test_unknown_category_is_named(model_version, flowers):
    mv, _ = model_version
    X, _ = flowers
    bad = X.assign(size=pd.Categorical(["huge"] * len(X)))
    with pytest.raises(SchemaViolation) as info:
        mv.predict(bad)
    assert info.value.unknown_categories == {"size": ["huge"]}
    # Strings in place of a categorical column are checked against the levels too.
    ok = X.assign(size=X["size"].astype(str))
    assert len(mv.predict(ok)) == len(X)


def test_all_problems_are_reported_at_once(model_version, flowers):
    mv, _ = model_version
    X, _ = flowers
    bad = X.drop(columns=["count"]).assign(
        **{"sepal length (cm)": "x"}, size=pd.Categorical(["tiny"] * len(X))
    )
    with pytest.raises(SchemaViolation) as info:
        mv.predict(bad)
    assert info.value.missing == ["count"]
    assert list(info.value.mistyped) == ["sepal length (cm)"]
    assert list(info.value.unknown_categories) == ["size"]


def test_signature_round_trips_through_json(flowers):
    X, _ = flowers
    signature = Signature.from_frame(X)
    again = Signature.from_dict(__import__("json").loads(signature.to_json()))
    assert again == signature
    assert [c.family for c in again.columns][-2:] == ["category", "integer"]


def test_arrays_are_checked_by_width(workspace):
    X, y = load_iris(return_X_y=True)
    mv = nbmlops.register_model(LogisticRegression(max_iter=1000).fit(X, y), "arrays")
    assert mv.signature.n_features == 4 and mv.signature.columns == ()
    assert len(mv.predict(X)) == len(X)
    with pytest.raises(SchemaViolation, match="takes 4 features, got an array with 3"):
        mv.predict(X[:, :3])


@pytest.mark.parametrize(
    ("dtype", "family"),
    [
        ("int8", "integer"),
        ("Int64", "integer"),
        ("uint32", "integer"),
        ("float32", "float"),
        ("bool", "bool"),
        ("boolean", "bool"),
        ("object", "string"),
        ("string", "string"),
        ("category", "category"),
        ("datetime64[ns]", "datetime"),
        ("datetime64[ns, UTC]", "datetime"),
    ],
)
def test_dtype_families(dtype, family):
    assert dtype_family(dtype) == family


_column_values = st.one_of(
    st.lists(st.integers(-1000, 1000), min_size=3, max_size=3),
    st.lists(st.floats(allow_nan=True), min_size=3, max_size=3),
    st.lists(st.text(max_size=5), min_size=3, max_size=3),
    st.lists(st.booleans(), min_size=3, max_size=3),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    columns=st.dictionaries(st.sampled_from(["a", "b", "c", "size"]), _column_values, max_size=4)
)
def test_random_frames_pass_or_get_a_schema_violation(flowers, columns):
    X, _ = flowers
    signature = Signature.from_frame(X[["size", "count"]].assign(a=1.0))
    frame = pd.DataFrame(columns)
    try:
        checked = signature.check(frame)
    except SchemaViolation as exc:
        assert exc.missing or exc.mistyped or exc.unknown_categories
        return
    assert list(checked.columns) == ["size", "count", "a"]
