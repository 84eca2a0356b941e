"""``nbmlops runs ls|show`` (``runs reproduce`` is in :mod:`nbmlops.cli.run`)."""

from __future__ import annotations

import json

import click

from ..errors import NbmlopsError
from ._common import fail, when


@click.group()
def runs() -> None:
    """List and inspect runs."""


@runs.command("ls")
@click.option("--experiment", "-e", default=None, help="Only runs of this experiment.")
@click.option(
    "--filter",
    "-f",
    "filter_",
    default=None,
    help='e.g. "metrics.accuracy > 0.9 and params.C == 0.5"',
)
@click.option("--order-by", "-o", default=None, help='e.g. "metrics.accuracy DESC"')
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Rows to show (0 = all).",
)
@click.option(
    "--columns",
    "-c",
    default=None,
    help="Comma-separated columns to show (default: the run table's main columns).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def runs_ls(experiment, filter_, order_by, limit, columns, as_json) -> None:
    """Show runs, newest first: attributes, your params, then metrics."""
    from ..tracking.query import run_records
    from . import _table

    try:
        records, total, available = run_records(
            experiment=experiment, filter=filter_, order_by=order_by, limit=limit or None
        )
    except NbmlopsError as exc:
        fail(exc)
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        missing = [c for c in wanted if c not in available]
        if missing:
            fail(NbmlopsError(f"unknown columns {missing}; available: {available}"))
    else:
        wanted = available if as_json else _table.default_columns(available)
    if as_json:
        click.echo(_table.to_json([{c: r[c] for c in wanted} for r in records]))
        return
    if not records:
        click.echo("no runs yet: track a notebook cell with %%track or nbmlops.start_run()")
        return
    click.echo(_table.render(records, wanted))
    if len(records) < total:
        click.echo(f"({len(records)} of {total:,} runs; --limit 0 shows all)", err=True)


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def runs_show(run_id: str, as_json: bool) -> None:
    """Show one run: status, params, metrics, tags, data, artifacts and environment."""
    from ..tracking import get_run

    try:
        run = get_run(run_id)
        info = run.info
        record = {
            "run_id": run.run_id,
            "name": info["name"],
            "experiment": info["experiment"],
            "status": info["status"],
            "start_time": when(info["start_time"]),
            "end_time": when(info["end_time"]),
            "duration_s": round(run.duration_s, 3),
            "parent_run_id": info["parent_run_id"],
            "source": info["source"],
            "git": run.git,
            "params": run.params,
            "metrics": run.metrics,
            "tags": run.tags,
            "inputs": run.inputs,
            "outputs": run.outputs,
            "artifacts": run.artifacts,
            "host": info["host"],
            "error": info["error"],
        }
    except NbmlopsError as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps(record, indent=2, default=str))
        return
    click.echo(f"run        {record['run_id']}  {record['name'] or ''}".rstrip())
    for label in (
        "experiment",
        "status",
        "start_time",
        "end_time",
        "duration_s",
        "parent_run_id",
        "source",
        "host",
    ):
        if record[label] is not None:
            click.echo(f"{label:<11}{record[label]}")
    git = record["git"]
    if git["commit"]:
        click.echo(
            f"{'git':<11}{git['commit'][:12]} on {git['branch'] or '(detached)'}"
            + (" (dirty)" if git["dirty"] else "")
        )
    for section in ("params", "metrics", "tags"):
        if record[section]:
            click.echo(f"\n{section}")
            for key, value in record[section].items():
                click.echo(f"  {key} = {value!r}" if section == "params" else f"  {key} = {value}")
    for section in ("inputs", "outputs"):
        if record[section]:
            click.echo(f"\n{section}")
            for name, data in record[section].items():
                shape = "x".join(map(str, data["shape"])) if data["shape"] else ""
                click.echo(f"  {name:<16} {data['kind']:<18} {shape:<12} {data['digest'][:12]}")
    if record["artifacts"]:
        click.echo("\nartifacts")
        for name in record["artifacts"]:
            click.echo(f"  {name}")
    if record["error"]:
        click.echo("\nerror")
        click.echo(record["error"].rstrip())
