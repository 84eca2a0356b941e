"""Performance drift: the model's metrics on the reference frame against the current frame,
when both frames hold the target and the prediction."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_CLASSES = 50


def _is_classification(target, prediction) -> bool:
    import pandas as pd

    dtype = target.dtype
    if (
        pd.api.types.is_bool_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    ):
        return True
    if pd.api.types.is_integer_dtype(dtype):
        return target.nunique() <= MAX_CLASSES
    values = target.dropna().to_numpy(dtype=float)
    return (
        bool(len(values))
        and bool(np.all(values == np.round(values)))
        and (len(np.unique(values)) <= MAX_CLASSES)
    )


def _is_score(prediction, labels) -> bool:
    """A float prediction in [0, 1] for a binary target is a score (probability)."""
    import pandas as pd

    if len(labels) != 2 or not pd.api.types.is_float_dtype(prediction.dtype):
        return False
    values = prediction.dropna().to_numpy(dtype=float)
    return (
        bool(len(values))
        and values.min() >= 0
        and values.max() <= 1
        and bool(np.any(values != np.round(values)))
    )


def _classification(y, pred, labels: list, is_score: bool) -> dict[str, float]:
    from sklearn import metrics as m

    positive = labels[-1]
    if is_score:
        score = np.asarray(pred, dtype=float)
        pred = np.where(score >= 0.5, positive, labels[0])
    binary = len(labels) == 2
    kw: dict[str, Any] = (
        {"average": "binary", "pos_label": positive} if binary else {"average": "macro"}
    )
    out = {
        "accuracy": m.accuracy_score(y, pred),
        "precision": m.precision_score(y, pred, zero_division=0, labels=labels, **kw),
        "recall": m.recall_score(y, pred, zero_division=0, labels=labels, **kw),
        "f1": m.f1_score(y, pred, zero_division=0, labels=labels, **kw),
        "roc_auc": math.nan,
    }
    if is_score and len(set(y)) == 2:
        out["roc_auc"] = m.roc_auc_score(np.asarray(y) == positive, score)
    return {k: float(v) for k, v in out.items()}


def _regression(y, pred) -> dict[str, float]:
    from sklearn import metrics as m

    return {
        "mae": float(m.mean_absolute_error(y, pred)),
        "rmse": float(math.sqrt(m.mean_squared_error(y, pred))),
        "r2": float(m.r2_score(y, pred)) if len(y) > 1 else math.nan,
    }


def performance_drift(reference, current, target: str, prediction: str) -> dict[str, Any]:
    """``{"task", "metrics": [{metric, reference, current, change}], "n": [ref, cur]}``.

    Rows missing the target or the prediction are left out (their count is reported).
    Classification: accuracy, precision, recall, F1 (binary for two labels, else macro) and
    ROC AUC when the prediction is a score in [0, 1]. Regression: MAE, RMSE, R².
    """
    import pandas as pd

    frames = []
    for frame in (reference, current):
        kept = frame[[target, prediction]].dropna()
        frames.append(kept)
    both_targets = pd.concat([frames[0][target], frames[1][target]])
    both_predictions = pd.concat([frames[0][prediction], frames[1][prediction]])
    classification = _is_classification(both_targets, both_predictions)
    result: dict[str, Any] = {
        "task": "classification" if classification else "regression",
        "n": [int(len(frames[0])), int(len(frames[1]))],
        "dropped": [int(len(reference) - len(frames[0])), int(len(current) - len(frames[1]))],
        "metrics": [],
    }
    if min(result["n"]) == 0:
        result["note"] = "no rows with both target and prediction in one of the frames"
        return result
    per_frame = []
    if classification:
        labels = sorted(pd.unique(both_targets.astype(object)), key=str)
        score = _is_score(both_predictions, labels)
        if not score:
            labels = sorted(set(labels) | set(pd.unique(both_predictions.astype(object))), key=str)
        for kept in frames:
            per_frame.append(
                _classification(kept[target].to_numpy(), kept[prediction].to_numpy(), labels, score)
            )
        result["prediction_is_score"] = score
    else:
        for kept in frames:
            per_frame.append(
                _regression(
                    kept[target].to_numpy(dtype=float), kept[prediction].to_numpy(dtype=float)
                )
            )
    for metric in per_frame[0]:
        ref_value, cur_value = per_frame[0][metric], per_frame[1][metric]
        result["metrics"].append(
            {
                "metric": metric,
                "reference": ref_value,
                "current": cur_value,
                "change": cur_value - ref_value,
            }
        )
    return result
