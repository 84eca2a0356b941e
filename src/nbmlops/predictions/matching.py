"""Whether two columns of answers agree row by row (a prediction and its label, or two arms'
predictions), the way a person reading them would judge.

A log read back from several files can hold the same class as ``1`` in one column and ``1.0``
in another (a file with a missing prediction makes the whole column float when they are joined),
and labels arrive as text or numbers. Comparing the text forms would call ``1.0`` and ``1``
different, so values that both read as numbers are also compared as numbers.
"""

from __future__ import annotations

from typing import Any


def same_answers(left: Any, right: Any) -> Any:
    """A boolean array: True where ``left[i]`` and ``right[i]`` are the same answer.

    >>> same_answers([1.0, "yes", 2], [1, "yes", "2.0"]).tolist()
    [True, True, True]
    """
    import numpy as np
    import pandas as pd

    left = pd.Series(np.asarray(left, dtype=object) if not isinstance(left, pd.Series) else left)
    right = pd.Series(
        np.asarray(right, dtype=object) if not isinstance(right, pd.Series) else right
    )
    left, right = left.reset_index(drop=True), right.reset_index(drop=True)
    # A missing value is no answer: pandas 2 writes NaN as the text "nan", pandas 3 keeps it.
    missing = (left.isna() | right.isna()).to_numpy()
    as_text = (left.astype(str).to_numpy() == right.astype(str).to_numpy()) & ~missing
    left_number = _numbers(left)
    right_number = _numbers(right)
    # Beyond 2**53 two different integers can share a float: there only the text decides.
    exact = (np.abs(left_number) < 2**53) & (np.abs(right_number) < 2**53)
    return as_text | (exact & (left_number == right_number))


def _numbers(values: Any) -> Any:
    import pandas as pd

    if pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype(int)
    elif values.dtype == object:
        # Booleans mixed with numbers are the numbers 0 and 1, as numpy and scikit-learn read them.
        values = values.map(lambda v: int(v) if isinstance(v, bool) else v)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=float("nan"))
