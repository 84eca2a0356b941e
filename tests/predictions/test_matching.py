"""Answers compared the way a person reads them: ``1``, ``1.0`` and ``"1"`` are one class."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from nbmlops.predictions.matching import same_answers


def test_a_float_column_matches_integer_labels():
    # A log read from several files turns 1 into 1.0 when one file has a missing prediction.
    predictions = pd.Series([1.0, 0.0, np.nan, 1.0])
    labels = pd.Series([1, 1, 0, 1])
    assert same_answers(predictions, labels).tolist() == [True, False, False, True]


def test_text_and_booleans_compare_as_people_read_them():
    assert same_answers(["yes", "no", True], ["yes", "yes", 1]).tolist() == [True, False, True]
    assert same_answers(["1", "a"], [1.0, "A"]).tolist() == [True, False]


def test_integers_beyond_float_precision_stay_distinct():
    big = 2**63 - 1
    assert same_answers([big, big], [big - 1, big]).tolist() == [False, True]


def test_missing_is_never_an_answer():
    assert not same_answers(pd.Series([None, np.nan]), pd.Series([None, np.nan])).any()
    nullable = pd.Series([1, pd.NA], dtype="Int64")
    assert same_answers(nullable, nullable).tolist() == [True, False]


@given(st.lists(st.integers(min_value=1 - 2**53, max_value=2**53 - 2), min_size=1, max_size=30))
def test_integers_match_their_float_and_text_forms(values):
    as_float = [float(v) for v in values]
    as_text = [str(v) for v in values]
    assert same_answers(values, as_float).all()
    assert same_answers(as_text, values).all()
    shifted = [v + 1 for v in values]
    assert not same_answers(values, shifted).any()


@given(
    st.lists(
        st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.none(), st.booleans()),
        max_size=20,
    )
)
def test_any_values_give_one_verdict_per_row_without_raising(values):
    result = same_answers(values, list(reversed(values)))
    assert result.dtype == bool and result.shape == (len(values),)
