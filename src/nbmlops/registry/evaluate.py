"""``evaluate``: standard metrics of a model version on labelled data, overall and per segment,
stored on the version so gates and model cards can use them."""

from __future__ import annotations

import math
import time
import warnings
from typing import TYPE_CHECKING, Any

from ..errors import InvalidModel
from ..tracking import _validate as v
from ..tracking.fingerprint import fingerprint
from ._context import current_user
from .versions import ModelVersion, _call_model, resolve

if TYPE_CHECKING:
    import pandas as pd

CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "roc_auc", "selection_rate")
REGRESSION = ("mae", "rmse", "r2")
MAX_SEGMENTS = 200


def _classification(y, pred, proba, classes) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics as m

    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    extra = {"pos_label": classes[1]} if binary else {}
    out = {
        "accuracy": m.accuracy_score(y, pred),
        "precision": m.precision_score(y, pred, average=average, zero_division=0, **extra),
        "recall": m.recall_score(y, pred, average=average, zero_division=0, **extra),
        "f1": m.f1_score(y, pred, average=average, zero_division=0, **extra),
        "roc_auc": math.nan,
        # Share predicted positive (binary only): what "demographic parity" compares.
        "selection_rate": float(np.mean(np.asarray(pred) == classes[1])) if binary else math.nan,
    }
    if proba is not None and len(set(y)) > 1:
        try:
            if binary:
                out["roc_auc"] = m.roc_auc_score(y, proba[:, 1])
            elif len(set(y)) == len(classes):
                out["roc_auc"] = m.roc_auc_score(
                    y, proba, multi_class="ovr", average="macro", labels=list(classes)
                )
        except ValueError:
            pass  # e.g. labels the model never saw: AUC is undefined, leave it NaN
    return {k: float(val) for k, val in out.items()}


def _regression(y, pred) -> dict[str, float]:
    from sklearn import metrics as m

    return {
        "mae": float(m.mean_absolute_error(y, pred)),
        "rmse": float(math.sqrt(m.mean_squared_error(y, pred))),
        "r2": float(m.r2_score(y, pred)) if len(y) > 1 else math.nan,
    }


def _segment_labels(X, segments) -> tuple[list[str], Any]:
    """``(names, labels)``: one label string per row, e.g. ``region=north``."""
    import numpy as np
    import pandas as pd

    if segments is None:
        return [], None
    if isinstance(segments, str):
        segments = [segments]
    if isinstance(segments, (list, tuple)) and all(isinstance(s, str) for s in segments):
        if not isinstance(X, pd.DataFrame):
            raise InvalidModel("segments by column name need X as a DataFrame")
        missing = [s for s in segments if s not in X.columns]
        if missing:
            raise InvalidModel(f"segment columns not in X: {', '.join(missing)}")
        parts = [X[s].astype(str).radd(f"{s}=") for s in segments]
        labels = parts[0]
        for part in parts[1:]:
            labels = labels + "," + part
        return list(segments), labels.to_numpy()
    values = pd.Series(np.asarray(segments)).astype(str)
    if len(values) != len(X):
        raise InvalidModel(
            f"segments has {len(values)} labels for {len(X)} rows; give one label per row"
        )
    name = getattr(segments, "name", None) or "segment"
    return [str(name)], values.radd(f"{name}=").to_numpy()


def _add_segments(results: dict, labels, score) -> None:
    import pandas as pd

    unique = pd.unique(labels)
    if len(unique) > MAX_SEGMENTS:
        raise InvalidModel(
            f"segments has {len(unique)} distinct values; at most {MAX_SEGMENTS} are "
            "evaluated (bin a numeric column first)"
        )
    for label in sorted(unique):
        mask = labels == label
        segment = str(label)[: v.MAX_KEY_LEN]
        results[segment] = (int(mask.sum()), score(mask))


def _sensitive_labels(X, features) -> list:
    """One array of ``column=value`` labels per sensitive feature."""
    import pandas as pd

    if features is None:
        return []
    if isinstance(features, str):
        features = [features]
    if isinstance(features, (list, tuple)):
        if not all(isinstance(f, str) for f in features):
            raise InvalidModel("sensitive_features is a column name, a list of them or a DataFrame")
        return [_segment_labels(X, f)[1] for f in features]
    if isinstance(features, pd.Series):
        features = features.to_frame()
    if not isinstance(features, pd.DataFrame):
        raise InvalidModel(
            "sensitive_features is a column name of X, a list of them or a DataFrame with "
            f"one row per row of X, got {type(features).__name__}"
        )
    if len(features) != len(X):
        raise InvalidModel(
            f"sensitive_features has {len(features)} rows for {len(X)} rows of X; give one "
            "row per row"
        )
    return [features[c].astype(str).radd(f"{c}=").to_numpy() for c in features.columns.astype(str)]


def evaluate(
    model: ModelVersion | str,
    X: Any,
    y: Any,
    segments: str | list[str] | Any = None,
    trusted: bool | list[str] = False,
    sensitive_features: str | list[str] | Any = None,
) -> pd.DataFrame:
    """Score ``model`` on ``X, y``; store and return the metrics, overall and per segment.

    Classification: accuracy, precision, recall, f1 (binary for two classes, else macro) and
    ROC AUC when the model has ``predict_proba``. Regression: MAE, RMSE, R². ``segments`` is
    a column of ``X``, a list of columns (their combinations), or one label per row.
    ``sensitive_features`` (as in fairlearn) are columns of ``X`` or a DataFrame with one
    row per row of ``X``, each evaluated on its own (``sex=F``, ``sex=M``, ``age_band=…``):
    the groups that fairness gates compare (``fairness.max_gap(recall, by=sex) <= 0.05``).
    Binary classifiers also get ``selection_rate``, the share predicted positive. The
    result has one row per segment (``""`` is the whole data) with ``n`` and one column per
    metric.

    >>> import nbmlops
    >>> nbmlops.evaluate("models:/churn/3", X_test, y_test, segments="region")  # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd

    mv = model if isinstance(model, ModelVersion) else resolve(model)
    estimator = mv._model_for(trusted)
    data = mv.signature.check(X, mv.uri)
    try:
        y_true = np.asarray(y)
    except (ValueError, TypeError):
        y_true = np.asarray(None)
    if y_true.ndim != 1:
        raise InvalidModel(
            f"y is one label per row of X (a Series, list or 1-d array), got {y!r:.60}"
        )
    if len(y_true) != len(data):
        raise InvalidModel(f"X has {len(data)} rows but y has {len(y_true)}")
    if len(y_true) == 0:
        raise InvalidModel("cannot evaluate on empty data")
    pred = np.asarray(_call_model(estimator.predict, data, mv.uri))
    output = mv.signature.output or {}
    is_classifier = output.get("kind") == "classes" or hasattr(estimator, "classes_")
    proba = None
    if is_classifier and hasattr(estimator, "predict_proba"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proba = np.asarray(_call_model(estimator.predict_proba, data, mv.uri))
    classes = list(getattr(estimator, "classes_", np.unique(y_true)))

    def score(mask) -> dict[str, float]:
        yt, yp = y_true[mask], pred[mask]
        if is_classifier:
            return _classification(yt, yp, None if proba is None else proba[mask], classes)
        return _regression(yt, yp)

    everything = np.ones(len(y_true), dtype=bool)
    results = {"": (int(len(y_true)), score(everything))}
    _names, labels = _segment_labels(X, segments)
    if labels is not None:
        _add_segments(results, labels, score)
    for labels in _sensitive_labels(X, sensitive_features):
        _add_segments(results, labels, score)
    digest = fingerprint(X).digest if fingerprint(X) is not None else None
    now = time.time()
    rows = [
        {"segment": seg, "key": key, "value": value, "n": n, "dataset_digest": digest, "at": now}
        for seg, (n, values) in results.items()
        for key, value in values.items()
    ]
    mv._store.models.save_metrics(mv.name, mv.version, rows, current_user())
    metric_names = list(CLASSIFICATION if is_classifier else REGRESSION)
    return pd.DataFrame(
        [{"segment": seg, "n": n, **values} for seg, (n, values) in results.items()],
        columns=["segment", "n", *metric_names],
    )
