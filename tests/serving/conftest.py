"""A model server's tests share one workspace per module: a small churn-like model with int,
float and text columns, registered twice, and helpers to wait on conditions."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import nbmlops

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")


def make_frame(n: int = 200, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "age": rng.integers(18, 80, n).astype("int64"),
            "income": rng.normal(50_000, 15_000, n).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], n).astype(object),
        }
    )


FEATURES = ["age", "income", "plan"]


def train(frame, flip: bool = False, c: float = 1.0):
    """A scikit-learn pipeline on the frame's features (``flip`` inverts the labels, so the
    two versions disagree)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    y = ((frame["income"] > 50_000) ^ flip).astype(int)
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["age", "income"]), ("cat", OneHotEncoder(), ["plan"])]
    )
    return make_pipeline(pre, LogisticRegression(C=c, max_iter=200)).fit(frame[FEATURES], y)


def wait_for(condition: Callable[[], object], timeout: float = 120.0, what: str = "condition"):
    """Poll ``condition`` until it gives something (returned) or fail after ``timeout``
    seconds (a deadline against hangs, not an expected time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        # None, False (numpy's too) and empty containers mean "not yet"; anything else (a
        # frame) is the answer.
        if (
            value is not None
            and value is not False
            and not (
                isinstance(value, (dict, list, tuple, str, int, float, np.generic)) and not value
            )
        ):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def served_workspace(tmp_path_factory) -> Path:
    """A workspace with ``churn`` v1 (production) and v2 (flipped), both with references."""
    mp = pytest.MonkeyPatch()
    for name in list(os.environ):
        if name.startswith("NBMLOPS_") and name != "NBMLOPS_TEST_POSTGRES_URL":
            mp.delenv(name)
    home = tmp_path_factory.mktemp("serving") / "workspace"
    mp.setenv("NBMLOPS_HOME", str(home))
    nbmlops.configure(reset=True)
    frame = make_frame()
    example = frame[FEATURES].head(20)
    v1 = nbmlops.register_model(
        train(frame), "churn", input_example=example, reference=frame[FEATURES]
    )
    nbmlops.register_model(
        train(frame, flip=True), "churn", input_example=example, reference=frame[FEATURES]
    )
    nbmlops.promote("churn", v1.version)
    yield home
    nbmlops.configure(reset=True)
    mp.undo()
