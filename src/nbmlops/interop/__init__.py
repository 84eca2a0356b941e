"""Moving history between nbmlops and MLflow, both ways.

``import_mlflow(tracking_uri)`` brings experiments, runs (status, times, params, tags, full
metric histories, artifacts) and registered models (versions, stages, aliases, model files)
from any MLflow tracking URI into the workspace; ``export_mlflow(tracking_uri)`` writes the
workspace's into MLflow. Both are idempotent and resumable: every run and every model version
is written whole or not at all, and a rerun skips what is already there. The mapping is in
docs/mlflow.md.
"""

from __future__ import annotations

from ._report import MigrationReport
from .mlflow_export import export_mlflow
from .mlflow_import import import_mlflow

__all__ = ["MigrationReport", "export_mlflow", "import_mlflow"]
