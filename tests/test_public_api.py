"""The public API is pinned: it cannot grow or shrink by accident, and import stays cheap."""

from __future__ import annotations

import subprocess
import sys

import nbmlops

EXPECTED = {
    "AuditVerification",
    "audit_log",
    "export_audit",
    "verify_audit",
    "PromotionRequest",
    "approve",
    "model_policy",
    "promotion_requests",
    "reject",
    "set_policy",
    "Lineage",
    "lineage",
    "ApprovalError",
    "RequestExpired",
    "RequestNotFound",
    "serve",
    "rollout",
    "ab_report",
    "score_file",
    "measure_latency",
    "rollouts",
    "get_rollout",
    "servers",
    "RolloutNotFound",
    "ServingError",
    "InvalidRequest",
    "StoreError",
    "ConcurrentUpdate",
    "Monitor",
    "MonitorResult",
    "alerts",
    "get_alert",
    "get_monitor",
    "log_labels",
    "monitor",
    "monitors",
    "prediction_log",
    "score",
    "set_reference",
    "PredictionLogError",
    "MonitorNotFound",
    "InvalidCheck",
    "RetrainError",
    "InvalidGate",
    "InvalidNotebook",
    "InvalidParameters",
    "NotReproducible",
    "NotebookFailed",
    "PipelineRun",
    "Reproduction",
    "reproduce",
    "run_notebook",
    "Pipeline",
    "PipelineError",
    "PipelineFailed",
    "PipelineResult",
    "run_pipeline",
    "sweep",
    "ActiveRun",
    "ColumnExpectation",
    "DriftReport",
    "Expectations",
    "MonitoringError",
    "ValidationResult",
    "drift_report",
    "drift_reports",
    "expectations_from",
    "load_drift_report",
    "load_expectations",
    "validate",
    "Fingerprint",
    "GateFailed",
    "InvalidModel",
    "InvalidTransition",
    "ModelCard",
    "ModelNotFound",
    "ModelVersion",
    "PackageVersionWarning",
    "SchemaViolation",
    "Signature",
    "UntrustedModelError",
    "delete_alias",
    "delete_model_version",
    "evaluate",
    "get_model",
    "import_mlflow",
    "export_mlflow",
    "load_model",
    "model_card",
    "model_history",
    "model_versions",
    "models",
    "promote",
    "register_model",
    "rollback",
    "set_alias",
    "IntegrityError",
    "InvalidArtifactName",
    "InvalidFilter",
    "InvalidKey",
    "InvalidMetric",
    "InvalidParam",
    "NbmlopsError",
    "NoActiveRun",
    "Run",
    "RunNotFound",
    "__version__",
    "active_run",
    "configure",
    "end_run",
    "errors",
    "features",
    "Entity",
    "FeatureError",
    "CompareError",
    "Comparison",
    "compare",
    "panel",
    "FeatureSchemaViolation",
    "FeatureStore",
    "FeatureView",
    "Field",
    "get_historical_features",
    "get_online_features",
    "experiments",
    "fingerprint",
    "get_run",
    "get_settings",
    "load_ipython_extension",
    "log_artifact",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_output",
    "log_param",
    "log_params",
    "log_text",
    "runs",
    "set_tag",
    "set_tags",
    "start_run",
}


def test_all_is_pinned_and_sorted():
    assert set(nbmlops.__all__) == EXPECTED
    assert nbmlops.__all__ == sorted(nbmlops.__all__)


def test_every_public_name_resolves():
    for name in nbmlops.__all__:
        assert getattr(nbmlops, name) is not None, name


def test_unknown_attribute_is_attribute_error():
    try:
        nbmlops.not_a_thing  # noqa: B018
    except AttributeError as exc:
        assert "not_a_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_loads_no_heavy_dependency():
    code = (
        "import sys, nbmlops; heavy = [m for m in ('pandas', 'sqlalchemy', 'sklearn', "
        "'IPython', 'numpy') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_errors_subclass_the_builtins_they_resemble():
    from nbmlops import errors

    assert issubclass(errors.RunNotFound, KeyError)
    assert issubclass(errors.InvalidMetric, ValueError)
    assert issubclass(errors.ArtifactNotFound, FileNotFoundError)
    assert all(
        issubclass(getattr(errors, n), errors.NbmlopsError)
        for n in dir(errors)
        if n[0].isupper() and n != "NbmlopsError" and isinstance(getattr(errors, n), type)
    )
    assert str(errors.RunNotFound("abc")).startswith("no run with id 'abc'")


def test_public_functions_named_like_their_modules_stay_functions():
    # The submodules are named sweeps and reproduction, so importing them (in any order)
    # never replaces the functions nbmlops.pipelines exports as sweep and reproduce.
    code = (
        "import nbmlops.pipelines.reproduction, nbmlops.pipelines.sweeps, nbmlops, types; "
        "from nbmlops.pipelines import reproduce, sweep; "
        "print(isinstance(nbmlops.reproduce, types.FunctionType), "
        "isinstance(nbmlops.sweep, types.FunctionType), "
        "isinstance(reproduce, types.FunctionType), isinstance(sweep, types.FunctionType))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True"] * 4
    from click.testing import CliRunner

    from nbmlops.cli import main

    result = CliRunner().invoke(main, ["runs", "reproduce", "ffffffff"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2 and "no run with id" in result.output
