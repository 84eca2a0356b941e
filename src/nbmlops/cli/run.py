"""``nbmlops run NOTEBOOK`` (one notebook, for CI) and ``nbmlops runs reproduce RUN_ID``.

``nbmlops run`` exit codes: 0 the notebook ran and every gate passed; 1 it could not run or
a cell failed (bad parameters, missing notebook, unreadable gate, usage errors included);
2 a gate failed — and only then, so CI can tell "the model is not good enough" from "the
pipeline is broken".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import GateFailed, NbmlopsError, NotebookFailed
from ._common import ExitOneOnUsageError


def _resolve_type(value: str):
    """papermill's ``-p`` typing: True/False/None, int, float, else the string."""
    if value in ("True", "False"):
        return value == "True"
    if value == "None":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _no_dates_loader():
    """PyYAML's safe loader without the timestamp resolver, as papermill's CLI reads ``-y``
    and ``-f`` (``papermill.iorw.NoDatesSafeLoader``): ``s: 2019-01-01`` is the string
    ``"2019-01-01"``, which papermill can inject, not a ``datetime.date``, which it cannot.
    Defined here rather than imported: importing papermill takes seconds."""
    import yaml

    class NoDatesSafeLoader(yaml.SafeLoader):
        yaml_implicit_resolvers = {
            first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }

    return NoDatesSafeLoader


def _yaml_mapping(text: str, where: str) -> dict:
    import yaml

    try:
        data = yaml.load(text, Loader=_no_dates_loader())  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"{where} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise click.BadParameter(f"{where} must be a mapping of name: value")
    return data


def collect_parameters(files, yamls, pairs, raws=()) -> dict:
    """Parameters from ``-f`` files, then ``-y`` strings, then ``-p`` pairs, then ``-r`` raw
    pairs (later wins), in papermill's order: ``-r NAME VALUE`` keeps VALUE as the string
    it is (``-r n 5`` injects ``"5"``; ``-p n 5`` injects ``5``)."""
    params: dict = {}
    for file in files:
        params.update(_yaml_mapping(Path(file).read_text(encoding="utf-8"), f"-f {file}"))
    for text in yamls:
        params.update(_yaml_mapping(text, "-y"))
    for key, value in pairs:
        params[key] = _resolve_type(value)
    for key, value in raws:
        params[key] = value
    return params


@click.command("run", cls=ExitOneOnUsageError)
@click.argument("notebook", type=click.Path(dir_okay=False))
@click.option("--parameter", "-p", "pairs", nargs=2, multiple=True, help="NAME VALUE (repeatable).")
@click.option(
    "--parameters-raw",
    "--parameters_raw",
    "-r",
    "raws",
    nargs=2,
    multiple=True,
    help="NAME VALUE, VALUE kept as a string (repeatable; as papermill's -r).",
)
@click.option("--parameters-yaml", "-y", "yamls", multiple=True, help="Parameters as YAML.")
@click.option(
    "--parameters-file",
    "-f",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="YAML file of parameters (repeatable).",
)
@click.option(
    "--gate", "-g", "gates", multiple=True, help='e.g. "metrics.f1 >= 0.85" (repeatable).'
)
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write a JUnit XML report here.",
)
@click.option("--output", "-o", default=None, help="Where to write the executed notebook.")
@click.option("--experiment", "-e", default=None, help="Experiment of the run.")
@click.option("--kernel", "-k", default=None, help="Kernel name (default: the notebook's).")
@click.option("--cwd", default=None, help="Working directory (default: the notebook's folder).")
@click.option("--timeout", type=float, default=None, help="Seconds allowed per cell.")
@click.option("--name", "-n", default=None, help="Run name (default: the notebook's name).")
@click.option(
    "--allow-unknown", is_flag=True, help="Inject parameters the notebook does not define."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def run_command(
    notebook,
    pairs,
    raws,
    yamls,
    files,
    gates,
    junit_path,
    output,
    experiment,
    kernel,
    cwd,
    timeout,
    name,
    allow_unknown,
    as_json,
) -> None:
    """Execute NOTEBOOK with parameters, record it as a run and check its gates.

    Exit status: 0 ok, 1 execution failed (or bad input), 2 a gate failed.
    """
    from ..pipelines._prepare import require_file
    from ..pipelines.junit import write_junit, write_junit_error

    try:
        require_file(notebook)  # before importing papermill and the store: fails in ms
        params = collect_parameters(files, yamls, pairs, raws)
        from ..pipelines.notebook import run_notebook

        result = run_notebook(
            notebook,
            params,
            output=output,
            experiment=experiment,
            kernel=kernel,
            cwd=cwd,
            timeout=timeout,
            gates=list(gates) or None,
            allow_unknown=allow_unknown,
            name=name,
            raise_on_failure=False,
        )
    except (NbmlopsError, click.BadParameter, OSError) as exc:
        if junit_path:
            write_junit_error(junit_path, notebook, str(exc))
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if junit_path:
        write_junit(result, junit_path)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "run_id": result.run_id,
                    "status": result.status,
                    "outcome": result.outcome,
                    "output": result.output,
                    "params": result.params,
                    "metrics": result.metrics,
                    "child_run_ids": result.child_run_ids,
                    "duration_s": result.duration_s,
                    "gates": json.loads(result.gates.to_json(orient="records")),
                    "error": None if result.error is None else str(result.error),
                },
                indent=2,
                default=str,
            )
        )
    else:
        click.echo(repr(result))
    if isinstance(result.error, NotebookFailed):
        click.echo(f"error: {result.error}", err=True)
        sys.exit(1)
    if isinstance(result.error, GateFailed):
        click.echo(f"gates failed: {result.error}", err=True)
        sys.exit(2)


@click.command("reproduce")
@click.argument("run_id")
@click.option(
    "--tolerance",
    "-t",
    type=float,
    default=1e-6,
    show_default=True,
    help="Relative and absolute tolerance per metric.",
)
@click.option("--cwd", default=None, help="Working directory of the re-execution.")
@click.option("--kernel", "-k", default=None, help="Kernel name.")
@click.option("--timeout", type=float, default=None, help="Seconds allowed per cell.")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def reproduce_command(run_id, tolerance, cwd, kernel, timeout, as_json) -> None:
    """Re-execute RUN_ID (a notebook run or a %%track cell) in a fresh kernel and compare.

    Exit status: 0 reproduced, 1 not reproduced, 2 the run cannot be re-executed.
    """
    from ..pipelines.reproduction import reproduce

    try:
        outcome = reproduce(run_id, tolerance, cwd=cwd, kernel=kernel, timeout=timeout)
    except NbmlopsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        record = {
            "run_id": outcome.run_id,
            "new_run_id": outcome.new_run_id,
            "reproduced": outcome.reproduced,
            "identical": outcome.identical,
            "differences": json.loads(outcome.to_frame().to_json(orient="records")),
        }
        click.echo(json.dumps(record, indent=2, default=str))
    else:
        click.echo(outcome.summary())
    sys.exit(0 if outcome.reproduced else 1)
