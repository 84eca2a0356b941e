"""A small registered classifier with reference data and a traffic simulator, shared by the
monitoring-loop tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

import nbmlops

DAY0 = pd.Timestamp("2024-01-01", tz="UTC")


def dataset(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 10, n),
            "age": rng.normal(40, 12, n),
            "site": rng.choice(["north", "south", "east"], n),
        }
    )
    y = ((frame["income"] - 50) / 10 + rng.normal(0, 0.5, n) > 0).astype(int).to_numpy()
    return frame, y


def register(name: str = "churn"):
    from sklearn.linear_model import LogisticRegression

    X, y = dataset()
    model = LogisticRegression().fit(X[["income", "age"]], y)
    mv = nbmlops.register_model(model, name, input_example=X[["income", "age"]], reference=X)
    nbmlops.evaluate(mv, X, y)
    mv.promote(reason="first model")
    return mv, X, y


def traffic(
    name: str, days: range, shift_from: int | None = None, rows: int = 60, label_delay: int = 1
):
    """Score ``rows`` rows a day; from day ``shift_from`` the income of site east rises by 25
    and its customers stop churning.
    Labels arrive ``label_delay`` days later."""
    for day in days:
        X, y = dataset(rows, seed=100 + day)
        if shift_from is not None and day >= shift_from:
            east = X["site"] == "east"
            X.loc[east, "income"] += 25
            y = np.where(east, 0, y)  # inflation: a higher income no longer means churn
        at = DAY0 + pd.Timedelta(days=day, hours=12)
        scored = nbmlops.score(f"models:/{name}@production", X, at=at)
        nbmlops.log_labels(scored["prediction_id"], y, at=at + pd.Timedelta(days=label_delay))
