"""``nbmlops import mlflow`` and ``nbmlops export mlflow``: move history to and from MLflow."""

from __future__ import annotations

import click

from ..errors import NbmlopsError
from ._common import fail

_URI_HELP = "MLflow tracking URI, e.g. sqlite:///mlflow.db, ./mlruns or http://host:5000."


@click.group("import")
def import_group() -> None:
    """Bring runs and models from another tracker into the workspace."""


@click.group("export")
def export_group() -> None:
    """Write the workspace's runs and models into another tracker."""


def _options(command):
    command = click.option(
        "--progress/--no-progress",
        default=None,
        help="Show a progress bar (default: on a terminal).",
    )(command)
    command = click.option("--no-models", is_flag=True, help="Leave registered models out.")(
        command
    )
    command = click.option(
        "--experiment",
        "-e",
        multiple=True,
        help="Only this experiment (repeat for several; default: all).",
    )(command)
    return click.option("--tracking-uri", required=True, help=_URI_HELP)(command)


@import_group.command("mlflow")
@_options
def import_mlflow_command(tracking_uri, experiment, no_models, progress) -> None:
    """Import MLflow experiments, runs (params, tags, metric histories, artifacts) and
    registered models. Safe to rerun: what is already here is skipped."""
    from ..interop import import_mlflow

    try:
        report = import_mlflow(
            tracking_uri, list(experiment) or None, models=not no_models, progress_bar=progress
        )
    except NbmlopsError as exc:
        fail(exc)
    click.echo(report.summary())


@export_group.command("mlflow")
@_options
def export_mlflow_command(tracking_uri, experiment, no_models, progress) -> None:
    """Export the workspace's experiments, runs and registered models to MLflow. Safe to
    rerun: what MLflow already has is skipped."""
    from ..interop import export_mlflow

    try:
        report = export_mlflow(
            tracking_uri, list(experiment) or None, models=not no_models, progress_bar=progress
        )
    except NbmlopsError as exc:
        fail(exc)
    click.echo(report.summary())
