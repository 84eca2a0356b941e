"""``nbmlops pipeline run|show`` and ``nbmlops sweep``: pipelines of notebooks from a shell or CI.

Exit codes of ``pipeline run`` and ``sweep``, as for ``nbmlops run``: 0 every step/run succeeded,
1 something could not run or failed (an invalid pipeline file or argument included), 2 only
quality gates failed — so CI tells "the model is not good enough" from "the pipeline is broken".
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..errors import NbmlopsError, PipelineError, PipelineFailed
from ._common import ExitOneOnUsageError, fail


def parse_value(text: str) -> Any:
    """A command-line value typed as papermill's ``-p`` does: int, float, bool, None, or str;
    JSON for lists and mappings (``[1, 2]``, ``{"a": 1}``)."""
    stripped = text.strip()
    if stripped[:1] in "[{":
        try:
            return json.loads(stripped)
        except ValueError:
            return text
    if stripped in ("True", "true"):
        return True
    if stripped in ("False", "false"):
        return False
    if stripped in ("None", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(stripped)
        except ValueError:
            pass
    return text


def parse_grid(items: tuple[str, ...]) -> dict[str, list]:
    """``("lr=0.1,0.01", "depth=3,5")`` -> ``{"lr": [0.1, 0.01], "depth": [3, 5]}``; a value
    list may also be JSON: ``'lr=[0.1, 0.01]'``."""
    grid: dict[str, list] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise PipelineError(f"--grid {item!r}: use NAME=V1,V2 (e.g. lr=0.1,0.01)")
        if name in grid:
            raise PipelineError(f"--grid {name!r} is given twice")
        parsed = parse_value(values) if values.strip().startswith("[") else None
        if isinstance(parsed, list):
            grid[name] = parsed
        else:
            grid[name] = [parse_value(v) for v in values.split(",") if v.strip()]
    return grid


def _parameters(pairs: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {name: parse_value(value) for name, value in pairs}


def _table(frame) -> str:
    shown = frame.copy()
    for column in shown.columns:
        if shown[column].dtype == float:
            shown[column] = shown[column].round(4)
    return shown.astype(object).where(shown.notna(), "").to_string(index=False)


_parameter_option = click.option(
    "--parameter",
    "-p",
    "parameters",
    nargs=2,
    multiple=True,
    metavar="NAME VALUE",
    help="Override a parameter (repeatable), typed like papermill's -p.",
)
_jobs_option = click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None, help="Notebooks run at once."
)
_executor_option = click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Local process pool, or a Dask distributed cluster.",
)
_scheduler_option = click.option(
    "--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786."
)


@click.group()
def pipeline() -> None:
    """Run and inspect pipelines of notebooks (pipeline.yaml)."""


@pipeline.command("run", cls=ExitOneOnUsageError)
@click.argument("path", type=click.Path(), default="pipeline.yaml")
@click.option("--force", is_flag=True, help="Rerun every step, cached or not.")
@_jobs_option
@_executor_option
@_scheduler_option
@_parameter_option
@click.option("--experiment", "-e", default=None, help="Experiment of the runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a TTY).")
def pipeline_run(
    path, force, jobs, executor, scheduler, parameters, experiment, as_json, progress
) -> None:
    """Run the steps of PATH (default ./pipeline.yaml) that are not cached.

    Exit code 0 when every step ran or was cached, 2 when only quality gates failed, 1 for any
    other failure.
    """
    from ..pipelines.spec import Pipeline

    show_progress = sys.stderr.isatty() if progress is None else progress
    try:
        spec = Pipeline.load(path)  # a broken pipeline.yaml fails before the heavy imports
        from ..pipelines.dag import run_pipeline

        result = run_pipeline(
            spec,
            force=force,
            jobs=jobs,
            executor=executor,
            scheduler=scheduler,
            parameters=_parameters(parameters),
            experiment=experiment,
            progress=show_progress,
            raise_on_failure=False,
        )
    except PipelineFailed as exc:  # pragma: no cover - raise_on_failure=False returns instead
        result = exc.result
    except NbmlopsError as exc:
        fail(exc, 1)
    from ..pipelines.dag import steps_json

    click.echo(steps_json(result) if as_json else result.summary())
    if not result.ok:
        for name in result.failed:
            step = result.steps[name]
            if step.error:
                click.echo(f"\n{name}: {step.error.strip()}", err=True)
        sys.exit(2 if result.gate_failed else 1)


@pipeline.command("show", cls=ExitOneOnUsageError)
@click.argument("path", type=click.Path(), default="pipeline.yaml")
@_parameter_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def pipeline_show(path, parameters, as_json) -> None:
    """Steps of PATH with their dependencies and cache state (runs nothing)."""
    from ..pipelines.spec import Pipeline

    try:
        spec = Pipeline.load(path)  # a broken pipeline.yaml fails before the heavy imports
        from ..pipelines.dag import pipeline_status

        table = pipeline_status(spec, _parameters(parameters))
    except NbmlopsError as exc:
        fail(exc, 1)
    if as_json:
        click.echo(table.to_json(orient="records", indent=2))
        return
    click.echo(f"pipeline {spec.name}  ({spec.path})")
    click.echo(_table(table[["step", "notebook", "needs", "state", "reason"]]))


@click.command("sweep", cls=ExitOneOnUsageError)
@click.argument("notebook", type=click.Path())
@click.option(
    "--grid",
    "-g",
    multiple=True,
    required=True,
    metavar="NAME=V1,V2",
    help="Values of one parameter (repeatable); every combination runs.",
)
@_jobs_option
@_executor_option
@_scheduler_option
@_parameter_option
@click.option("--gate", "gates", multiple=True, help='e.g. "metrics.f1 >= 0.8" (repeatable).')
@click.option("--experiment", "-e", default=None, help="Experiment of the runs.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the table as CSV.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a TTY).")
def sweep_command(
    notebook, grid, jobs, executor, scheduler, parameters, gates, experiment, csv_path, progress
) -> None:
    """Run NOTEBOOK once per combination of the --grid values and print params and metrics.

    Exit code 0 when every run finished, 2 when only gates failed, 1 for any other failure.
    """
    from ..pipelines.sweeps import sweep

    show_progress = sys.stderr.isatty() if progress is None else progress
    try:
        table = sweep(
            notebook,
            parse_grid(grid),
            parallel=jobs,
            executor=executor,
            scheduler=scheduler,
            parameters=_parameters(parameters),
            experiment=experiment,
            gates=list(gates) or None,
            progress=show_progress,
            raise_on_failure=True,
        )
        failure = None
    except PipelineFailed as exc:
        table, failure = exc.result, exc
    except NbmlopsError as exc:
        fail(exc, 1)
    if csv_path:
        table.to_csv(csv_path, index=False)
    shown = table.drop(columns=["error"]).assign(run_id=table["run_id"].str[:8])
    click.echo(f"sweep run {table.attrs['sweep_run_id'][:8]}")
    click.echo(_table(shown))
    if failure is not None:
        click.echo(f"\n{failure}", err=True)
        sys.exit(2 if failure.gate_failed else 1)
