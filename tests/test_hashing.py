"""The identity digest of a model: the pickle's bytes, hashed without copying its arrays."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nbmlops._hashing import pickle_parts, sha256_later

arrays = hnp.arrays(
    dtype=st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(), hnp.unicode_string_dtypes()),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=40),
)
# Large arrays are what the pickler hands over uncopied (64 KiB and more).
large = st.sampled_from(["<f8", ">i4", "u1", "c16", "<M8[ns]"]).map(
    lambda dtype: np.arange(20_000).astype(dtype)
)
values = st.recursive(
    st.one_of(st.none(), st.integers(), st.floats(), st.text(), st.binary(), arrays, large),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(values, st.booleans(), st.booleans())
def test_the_parts_are_exactly_the_pickle_and_hash_like_it(value, fortran, sliced):
    if isinstance(value, np.ndarray) and value.ndim > 1:
        value = np.asfortranarray(value) if fortran else value
        value = value[::2] if sliced else value  # not contiguous: pickled by copy
    expected = pickle.dumps(value, protocol=5)
    parts = pickle_parts(value)
    assert b"".join(bytes(memoryview(p)) for p in parts) == expected
    digest = hashlib.sha256(expected).hexdigest()
    assert sha256_later(parts)() == digest
    assert sha256_later(parts, in_thread=False)() == digest


def test_a_large_array_is_handed_over_uncopied():
    array = np.arange(1_000_000, dtype="f8")
    parts = pickle_parts({"weights": array})
    shared = [p for p in parts if np.shares_memory(np.frombuffer(p, dtype="u1"), array)]
    assert len(shared) == 1  # the array's own memory, not a copy of it
    assert sum(memoryview(p).nbytes for p in parts) == len(pickle.dumps({"weights": array}, 5))
