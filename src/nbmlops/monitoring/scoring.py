"""The monitoring loop's entry points that name a model by URI or ``ModelVersion``: ``score``
(predict, then log) and ``set_reference``; they resolve the model through the registry and
write through :mod:`nbmlops.predictions`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..predictions.log import ID, PREDICTION, input_frame, log_predictions, prediction_ids
from ..predictions.reference import record_reference
from ..registry import ModelVersion, get_model

if TYPE_CHECKING:
    import pandas as pd


def _version(model: Any) -> ModelVersion:
    return model if isinstance(model, ModelVersion) else get_model(model)


def score(
    model: Any,
    data: Any,
    log: bool = True,
    ids: Any = None,
    at: Any = None,
    trusted: bool | list[str] = False,
    redact: Any = None,
) -> pd.DataFrame:
    """Predict with ``model`` (``"models:/churn@production"``, a ``ModelVersion``) after the
    signature check, log inputs and predictions (``log=True``), and return a DataFrame on
    ``data``'s index with ``prediction_id`` and ``prediction``.

    ``ids`` names a column of ``data`` (or gives one id per row) to join late labels by; by
    default each row gets a random id, returned here. ``at`` is the time recorded (default now).

    >>> import nbmlops
    >>> scored = nbmlops.score("models:/churn@production", todays_customers)  # doctest: +SKIP
    >>> nbmlops.log_labels(scored["prediction_id"], churned)  # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd

    mv = _version(model)
    frame = input_frame(data)
    predictions = np.asarray(mv.predict(frame, trusted=trusted))
    if log:
        row_ids = log_predictions(
            mv.name, mv.version, frame, predictions, ids=ids, at=at, redact=redact
        )
    else:
        row_ids, _column = prediction_ids(frame, ids, set())
    index = data.index if isinstance(data, pd.DataFrame) else None
    return pd.DataFrame({ID: row_ids, PREDICTION: predictions}, index=index)


def set_reference(model: Any, frame: Any) -> None:
    """Record ``frame`` as the reference data of ``model`` (a ``ModelVersion`` or URI)."""
    mv = _version(model)
    record_reference(mv.name, mv.version, frame)
