"""Request bodies read the same whichever way they are parsed: rows of numbers take a fast
path (one 2-d array) that must give the frame pandas infers, and bodies orjson refuses (NaN,
Infinity) still parse as the standard library reads them."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from nbmlops.serving.payloads import parse_invocations


@pytest.mark.parametrize(
    "rows",
    [
        [[1.5, 2.0], [3.0, 4.5]],
        [[1, 2], [3, 4]],
        [[1, 2.5], [3, 4]],
        [[True, 1.0], [False, 2.0]],
        [[True, 1], [2, 1]],
        [[None, 1.0], [2.0, 3.0]],
        [["a", 1.0], ["b", 2.0]],
        [[2**40, 1], [1, 1]],
    ],
)
def test_dataframe_split_reads_like_pandas(rows):
    body = json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": rows}}).encode()
    got = parse_invocations(body, "application/json", None)
    pd.testing.assert_frame_equal(got, pd.DataFrame(rows, columns=["a", "b"]))


def test_nan_and_infinity_bodies_parse_like_mlflow():
    body = b'{"dataframe_split": {"columns": ["a"], "data": [[NaN], [Infinity], [1.0]]}}'
    got = parse_invocations(body, "application/json", None)
    assert got["a"].isna().tolist() == [True, False, False]
    assert got["a"].iloc[1] == float("inf")
