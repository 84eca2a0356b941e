"""Arrays of a skops file read straight from .npy bytes: exactly what np.load gives, or left to
np.load."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nbmlops
from nbmlops.registry._npy import read_npy

dtypes = st.one_of(
    hnp.scalar_dtypes(),
    hnp.byte_string_dtypes(),
    hnp.unicode_string_dtypes(),
    hnp.array_dtypes(subtype_strategy=hnp.scalar_dtypes(), min_size=1, max_size=4),
)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@settings(max_examples=300, deadline=None)
@given(
    array=hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)),
    fortran=st.booleans(),
)
def test_read_npy_gives_what_np_load_gives(array, fortran):
    if fortran:
        array = np.asfortranarray(array)
    data = _npy(array)
    expected = np.load(io.BytesIO(data), allow_pickle=False)
    got = read_npy(data)
    if got is None:  # left to np.load: only headers of another format version
        assert data[6] != 1
        return
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.flags.writeable and got.flags.owndata
    assert got.flags.f_contiguous == expected.flags.f_contiguous
    assert got.tobytes() == expected.tobytes()
    lent = read_npy(data, copy=False)  # a view of data, for a reader that copies at once
    assert lent.dtype == expected.dtype and lent.shape == expected.shape
    assert lent.tobytes() == expected.tobytes() and not lent.flags.writeable
    assert lent.size == 0 or np.shares_memory(lent, np.frombuffer(data, dtype="u1"))


def test_plain_arrays_take_the_fast_path():
    for array in (np.arange(10.0), np.zeros((3, 4), order="F"), np.array(5), np.array([], "i4")):
        assert read_npy(_npy(array)) is not None


def test_what_only_np_load_may_read_is_left_to_it():
    objects = io.BytesIO()
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert read_npy(objects.getvalue()) is None  # np.load refuses it without allow_pickle
    data = _npy(np.arange(6.0))
    assert read_npy(data[:-8]) is None  # short data: np.load says what is wrong
    assert read_npy(b"not an array") is None
    version2 = bytearray(data)
    version2[6] = 2
    assert read_npy(bytes(version2)) is None


def test_a_loaded_forest_predicts_like_the_original_and_its_arrays_are_its_own(workspace):
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_classification(n_samples=500, n_features=6, random_state=0)
    model = RandomForestClassifier(n_estimators=12, random_state=0).fit(X, y)
    nbmlops.register_model(model, "forest")
    loaded = nbmlops.load_model("models:/forest/1")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.classes_.flags.writeable and loaded.classes_.flags.owndata
    loaded.classes_[0] = loaded.classes_[0]  # writable, as np.load made them


def test_object_arrays_in_a_skops_file_still_load(workspace):
    """An object array in a model goes through skops' own path (stored as JSON items)."""
    from sklearn.preprocessing import OneHotEncoder

    encoder = OneHotEncoder().fit(np.array([["a"], ["b"], ["c"]], dtype=object))
    nbmlops.register_model(encoder, "encoder")
    loaded = nbmlops.load_model("models:/encoder/1")
    assert [list(c) for c in loaded.categories_] == [["a", "b", "c"]]
    assert loaded.transform([["b"]]).toarray().tolist() == [[0.0, 1.0, 0.0]]


@pytest.mark.parametrize("shape", [(0,), (2, 0, 3), ()])
def test_empty_and_zero_dimensional_arrays(shape):
    array = np.ones(shape, dtype="<f8")
    got = read_npy(_npy(array))
    assert got is not None and got.shape == shape


def test_a_loaded_forest_makes_no_copy_of_its_trees():
    """A tree copies its nodes into its own memory: they are lent to it as views of the
    file's bytes (no copy of each member, no copy of each array), and nothing built keeps
    the file's bytes alive."""
    import gc
    import tracemalloc

    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    from nbmlops.registry import persistence

    try:
        from skops.io._persist import read_schema  # noqa: F401
    except ImportError:
        pytest.skip("this skops lacks read_schema: loads go through skops' public calls")
    X, y = make_classification(n_samples=20_000, n_features=8, random_state=0)
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    data = persistence.serialize(model).data
    trust = ["sklearn.tree._tree.Tree"]
    persistence.deserialize("skops", data, "m", trusted=trust)  # imports: not measured
    gc.collect()
    tracemalloc.start()
    try:
        loaded = persistence.deserialize("skops", data, "m", trusted=trust)
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Copying every member and then every array allocated twice the file (2.1x here).
    assert peak < len(data) / 2, (peak, len(data))
    assert held < len(data) / 10
    del data
    for ours, theirs in zip(loaded.estimators_, model.estimators_, strict=True):
        nodes = ours.tree_.__getstate__()["nodes"]
        assert nodes.flags.writeable
        assert nodes.tobytes() == theirs.tree_.__getstate__()["nodes"].tobytes()
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
