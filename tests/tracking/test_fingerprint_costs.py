"""Fingerprints a run records stay bounded for large frames and are reused when unchanged."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest

import nbmlops

# The package exports a function named like the module: take the module itself.
fpmod = importlib.import_module("nbmlops.tracking.fingerprint")


@pytest.fixture(scope="module")
def large():
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.random((fpmod.FULL_HASH_CELLS // 4 + 10, 4)), columns=list("abcd"))


def test_large_frames_get_a_bounded_sampled_digest(large):
    fp = fpmod.input_fingerprint(large)
    assert fp.sampled_rows == fpmod.SAMPLE_ROWS
    assert fp.shape == large.shape and fp.schema == fpmod.fingerprint(large).schema
    assert fp.digest != fpmod.fingerprint(large).digest  # never mistaken for a full digest
    assert fpmod.input_fingerprint(large.copy()).digest == fp.digest  # same data, same digest
    changed = large.copy()
    changed.iloc[-1, 0] = -1.0  # the last row is always in the sample
    assert fpmod.input_fingerprint(changed).digest != fp.digest
    assert fpmod.input_fingerprint(large.rename(columns={"a": "z"})).digest != fp.digest
    arr = large.to_numpy()
    assert fpmod.input_fingerprint(arr).sampled_rows == fpmod.SAMPLE_ROWS
    assert fpmod.input_fingerprint(large["a"]).sampled_rows is None  # a Series under the bound


def test_mid_sized_frames_are_hashed_once_while_unchanged(monkeypatch):
    frame = pd.DataFrame({"a": np.arange(60_000.0), "b": np.arange(60_000)})  # 120k cells
    calls = []
    real = fpmod.fingerprint

    def counting(obj):
        calls.append(1)
        return real(obj)

    monkeypatch.setattr(fpmod, "fingerprint", counting)
    first = fpmod.input_fingerprint(frame)
    assert first == real(frame) and first.sampled_rows is None
    assert fpmod.input_fingerprint(frame) == first
    assert len(calls) == 1  # the second read reused the full hash
    frame["a"] = frame["a"] + 1  # a replaced column: new arrays
    assert fpmod.input_fingerprint(frame) == real(frame) != first
    assert len(calls) == 2
    frame.iloc[0, 1] = -5  # in place, in a sampled row
    assert fpmod.input_fingerprint(frame) == real(frame)
    assert len(calls) == 3
    # Small objects are hashed in full every time (cheap, and always exact).
    small = pd.DataFrame({"a": [1, 2, 3]})
    fpmod.input_fingerprint(small)
    small.iloc[1, 0] = 9
    assert fpmod.input_fingerprint(small) == real(small)


def test_a_run_says_when_a_digest_is_sampled(workspace, large):
    with nbmlops.start_run() as run:
        run.log_input(large, "big")
        run.log_input(large.head(10), "small")
    rows = {r["name"]: r for r in run._details()["data"]}
    assert json.loads(rows["big"]["info"]) == {"sampled_rows": fpmod.SAMPLE_ROWS}
    assert rows["small"]["info"] is None


def test_public_fingerprint_bounded_is_what_runs_record(large):
    assert nbmlops.fingerprint(large, bounded=True) == fpmod.input_fingerprint(large)
    assert nbmlops.fingerprint(large).sampled_rows is None
