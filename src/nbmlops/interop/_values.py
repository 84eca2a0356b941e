"""How values differ between MLflow and nbmlops: times, params, stages, run statuses."""

from __future__ import annotations

import ast
import json
import math
import warnings

# Tags the importer turns into fields (or drops) instead of keeping them as tags.
RUN_NAME_TAG = "mlflow.runName"
SOURCE_RUN_TAG = "nbmlops.run_id"  # set on runs nbmlops exported: the id to come back as
PARENT_TAG = "mlflow.parentRunId"
USER_TAG = "mlflow.user"  # the run's user_name
COMPLETE_TAG = "nbmlops.export.complete"  # set last on an exported run: it is whole
MODELS_PATH = "nbmlops-models"  # where an export puts model version files in a run
MODEL_TAG = "nbmlops.model"  # "name/version" on an exported model version
# nbmlops' own fields of an exported version, as JSON: they come back on import.
VERSION_FIELDS_TAG = "nbmlops.version"
VERSION_FIELDS = ("model_class", "model_digest", "untrusted_types", "packages", "signature", "card")
# A run's logged MLflow datasets become input data rows of this kind; the context tag goes
# to the row's info (what datasets.context filters read).
MLFLOW_DATASET_KIND = "mlflow dataset"
DATASET_CONTEXT_TAG = "mlflow.data.context"
MAX_INPUT_NAME = 250  # data_io.name
MAX_DIGEST = 64  # data_io.digest
MLFLOW_MAX_DIGEST = 36  # MLflow's datasets.digest
# An exported input's own row (kind, whole digest, shape, schema, info) rides in the MLflow
# dataset's profile under this key, so an import gives back exactly what was exported.
PROFILE_KEY = "nbmlops.input"
STATUSES = {"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"}
STAGES_IN = {"None": None, "Staging": "staging", "Production": "production", "Archived": "archived"}
STAGES_OUT = {
    None: "None",
    "staging": "Staging",
    "production": "Production",
    "archived": "Archived",
}


def seconds(millis: int | None) -> float | None:
    return None if millis is None else millis / 1000.0


def millis(seconds_: float | None) -> int | None:
    return None if seconds_ is None else int(round(seconds_ * 1000))


def param_value(text: str):
    """An MLflow param's text as the value nbmlops stores: a number, bool, None, list or dict
    whose ``str()`` is exactly the text comes back typed (``"0.5"`` → 0.5, ``"[64, 32]"`` →
    [64, 32]); anything else stays text (``"1e-3"``, ``"lbfgs"``). So ``str(value)`` — what
    MLflow filters compare and what an export writes — is always the original text."""
    if len(text) > 2000 or not text or text != text.strip():
        return text
    try:
        with warnings.catch_warnings():  # "1abc" warns "invalid decimal literal"
            warnings.simplefilter("ignore")  # SyntaxWarning, DeprecationWarning (3.11)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return text
    if isinstance(value, float) and not math.isfinite(value):
        return text
    if not isinstance(value, (int, float, bool, type(None), list, dict)) or str(value) != text:
        return text
    try:
        if json.loads(json.dumps(value)) != value:  # tuples inside, non-str dict keys, …
            return text
    except (TypeError, ValueError):
        return text
    return value


def param_json(text: str) -> str:
    """The JSON text the params table holds for an MLflow param."""
    return json.dumps(param_value(text), sort_keys=True, ensure_ascii=False)


def param_text(stored_json: str) -> str:
    """What MLflow stores for an nbmlops param: ``str(value)``."""
    return str(json.loads(stored_json))
