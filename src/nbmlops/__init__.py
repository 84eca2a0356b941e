"""nbmlops: the MLOps lifecycle inside the notebook.

``%load_ext nbmlops`` then ``%%track`` on a cell records it as an experiment run; the same
capabilities are plain functions here. Attributes load lazily so ``import nbmlops`` stays fast.

>>> import nbmlops
>>> with nbmlops.start_run(name="baseline"):  # doctest: +SKIP
...     nbmlops.log_metric("accuracy", 0.93)
>>> nbmlops.runs()  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__ as __version__
from .display import bundle as _bundle

# public name -> module that defines it (imported on first access)
_LAZY = {
    "configure": "nbmlops.config",
    "get_settings": "nbmlops.config",
    "Run": "nbmlops.tracking",
    "ActiveRun": "nbmlops.tracking",
    "Fingerprint": "nbmlops.tracking",
    "active_run": "nbmlops.tracking",
    "end_run": "nbmlops.tracking",
    "experiments": "nbmlops.tracking",
    "fingerprint": "nbmlops.tracking",
    "get_run": "nbmlops.tracking",
    "log_artifact": "nbmlops.tracking",
    "log_dict": "nbmlops.tracking",
    "log_figure": "nbmlops.tracking",
    "log_input": "nbmlops.tracking",
    "log_metric": "nbmlops.tracking",
    "log_metrics": "nbmlops.tracking",
    "log_output": "nbmlops.tracking",
    "log_param": "nbmlops.tracking",
    "log_params": "nbmlops.tracking",
    "log_text": "nbmlops.tracking",
    "runs": "nbmlops.tracking",
    "set_tag": "nbmlops.tracking",
    "set_tags": "nbmlops.tracking",
    "start_run": "nbmlops.tracking",
    "ModelCard": "nbmlops.registry",
    "ModelVersion": "nbmlops.registry",
    "PackageVersionWarning": "nbmlops.registry",
    "Signature": "nbmlops.registry",
    "delete_alias": "nbmlops.registry",
    "delete_model_version": "nbmlops.registry",
    "evaluate": "nbmlops.registry",
    "get_model": "nbmlops.registry",
    "import_mlflow": "nbmlops.interop",
    "export_mlflow": "nbmlops.interop",
    "load_model": "nbmlops.registry",
    "measure_latency": "nbmlops.registry",
    "model_card": "nbmlops.registry",
    "model_history": "nbmlops.registry",
    "model_versions": "nbmlops.registry",
    "models": "nbmlops.registry",
    "promote": "nbmlops.registry",
    "register_model": "nbmlops.registry",
    "rollback": "nbmlops.registry",
    "set_alias": "nbmlops.registry",
    "AuditVerification": "nbmlops.registry",
    "audit_log": "nbmlops.registry",
    "export_audit": "nbmlops.registry",
    "verify_audit": "nbmlops.registry",
    "PromotionRequest": "nbmlops.registry",
    "approve": "nbmlops.registry",
    "model_policy": "nbmlops.registry",
    "promotion_requests": "nbmlops.registry",
    "reject": "nbmlops.registry",
    "set_policy": "nbmlops.registry",
    "Lineage": "nbmlops.registry",
    "lineage": "nbmlops.registry",
    "ApprovalError": "nbmlops.errors",
    "RequestExpired": "nbmlops.errors",
    "RequestNotFound": "nbmlops.errors",
    "ColumnExpectation": "nbmlops.monitoring",
    "DriftReport": "nbmlops.monitoring",
    "Expectations": "nbmlops.monitoring",
    "ValidationResult": "nbmlops.monitoring",
    "drift_report": "nbmlops.monitoring",
    "drift_reports": "nbmlops.monitoring",
    "expectations_from": "nbmlops.monitoring",
    "load_drift_report": "nbmlops.monitoring",
    "load_expectations": "nbmlops.monitoring",
    "validate": "nbmlops.monitoring",
    "Monitor": "nbmlops.monitoring",
    "MonitorResult": "nbmlops.monitoring",
    "alerts": "nbmlops.monitoring",
    "get_alert": "nbmlops.monitoring",
    "get_monitor": "nbmlops.monitoring",
    "log_labels": "nbmlops.monitoring",
    "monitor": "nbmlops.monitoring",
    "monitors": "nbmlops.monitoring",
    "prediction_log": "nbmlops.monitoring",
    "score": "nbmlops.monitoring",
    "set_reference": "nbmlops.monitoring",
    "PredictionLogError": "nbmlops.errors",
    "MonitorNotFound": "nbmlops.errors",
    "InvalidCheck": "nbmlops.errors",
    "RetrainError": "nbmlops.errors",
    "PipelineRun": "nbmlops.pipelines",
    "Reproduction": "nbmlops.pipelines",
    "reproduce": "nbmlops.pipelines",
    "run_notebook": "nbmlops.pipelines",
    "Pipeline": "nbmlops.pipelines",
    "PipelineResult": "nbmlops.pipelines",
    "run_pipeline": "nbmlops.pipelines",
    "sweep": "nbmlops.pipelines",
    "PipelineError": "nbmlops.errors",
    "PipelineFailed": "nbmlops.errors",
    "InvalidGate": "nbmlops.errors",
    "InvalidNotebook": "nbmlops.errors",
    "InvalidParameters": "nbmlops.errors",
    "NotReproducible": "nbmlops.errors",
    "NotebookFailed": "nbmlops.errors",
    "MonitoringError": "nbmlops.errors",
    "errors": "nbmlops.errors",
    "GateFailed": "nbmlops.errors",
    "InvalidModel": "nbmlops.errors",
    "InvalidTransition": "nbmlops.errors",
    "ModelNotFound": "nbmlops.errors",
    "SchemaViolation": "nbmlops.errors",
    "UntrustedModelError": "nbmlops.errors",
    "NbmlopsError": "nbmlops.errors",
    "RunNotFound": "nbmlops.errors",
    "IntegrityError": "nbmlops.errors",
    "InvalidKey": "nbmlops.errors",
    "InvalidMetric": "nbmlops.errors",
    "InvalidParam": "nbmlops.errors",
    "InvalidArtifactName": "nbmlops.errors",
    "InvalidFilter": "nbmlops.errors",
    "NoActiveRun": "nbmlops.errors",
    "features": "nbmlops.features",
    "Entity": "nbmlops.features",
    "FeatureStore": "nbmlops.features",
    "FeatureView": "nbmlops.features",
    "Field": "nbmlops.features",
    "get_historical_features": "nbmlops.features",
    "get_online_features": "nbmlops.features",
    "FeatureError": "nbmlops.errors",
    "CompareError": "nbmlops.errors",
    "Comparison": "nbmlops.widgets",
    "compare": "nbmlops.widgets",
    "panel": "nbmlops.widgets",
    "FeatureSchemaViolation": "nbmlops.errors",
    "StoreError": "nbmlops.errors",
    "ConcurrentUpdate": "nbmlops.errors",
    "serve": "nbmlops.serving",
    "servers": "nbmlops.serving",
    "rollout": "nbmlops.serving",
    "ab_report": "nbmlops.serving",
    "score_file": "nbmlops.serving",
    "rollouts": "nbmlops.serving",
    "get_rollout": "nbmlops.serving",
    "RolloutNotFound": "nbmlops.errors",
    "ServingError": "nbmlops.errors",
    "InvalidRequest": "nbmlops.errors",
}

__all__ = sorted([*_LAZY, "__version__", "load_ipython_extension"])


def _run_view(run):
    from .widgets.run_view import RunView

    return RunView(run)


def _comparison_view(comparison):
    from .widgets.compare_view import CompareView

    return CompareView(comparison)


# Capabilities show their static HTML themselves and name their interactive view by a kind;
# the widgets that build those views are plugged in here, at the top, so no capability
# imports nbmlops.widgets (and importing nbmlops stays as cheap as before).
_bundle.set_view("run", _run_view)
_bundle.set_view("comparison", _comparison_view)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbmlops' has no attribute {name!r}")
    value = importlib.import_module(module)
    if name not in ("errors", "features"):  # submodules exposed as namespaces
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def load_ipython_extension(ipython) -> None:
    """``%load_ext nbmlops``: register ``%%track``, ``%runs`` and the other magics."""
    from .magics import load_ipython_extension as load

    load(ipython)
