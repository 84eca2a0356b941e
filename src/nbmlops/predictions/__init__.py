"""Predictions: the log of what models were asked and answered (and, later, what was true),
and the training reference each model version's traffic is compared with.

Below the capabilities that use it: the registry writes here (``ModelVersion.predict(...,
log=True)``, ``register_model(..., reference=X_train)``), monitoring reads it, and a model server
will write it too. Models are named by name and version number only; the public, model-resolving
functions (``nbmlops.score``, ``nbmlops.set_reference``) live in :mod:`nbmlops.monitoring`.

>>> import nbmlops
>>> nbmlops.log_labels(outcomes["prediction_id"], outcomes["churned"])  # doctest: +SKIP
>>> nbmlops.prediction_log("churn", start="2024-03-01", labelled=True)  # doctest: +SKIP
"""

from .log import (
    ARM,
    ID,
    LABEL,
    LABEL_TIME,
    LATENCY_MS,
    PREDICTION,
    REQUEST_ID,
    RESERVED,
    SERVING,
    TIME,
    VERSION,
    apply_retention,
    holdout_mask,
    input_frame,
    inputs_of,
    log_labels,
    log_predictions,
    prediction_ids,
    prediction_log,
    redacted_columns,
    to_epoch,
)
from .reference import load_reference, record_reference, reference_digest, reference_parquet

__all__ = [
    "ARM",
    "ID",
    "LABEL",
    "LABEL_TIME",
    "LATENCY_MS",
    "PREDICTION",
    "REQUEST_ID",
    "RESERVED",
    "SERVING",
    "TIME",
    "VERSION",
    "apply_retention",
    "holdout_mask",
    "input_frame",
    "inputs_of",
    "load_reference",
    "log_labels",
    "log_predictions",
    "prediction_ids",
    "prediction_log",
    "record_reference",
    "redacted_columns",
    "reference_digest",
    "reference_parquet",
    "to_epoch",
]
