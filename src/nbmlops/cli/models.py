"""``nbmlops models ls|show|promote|rollback|delete|card`` (``policy``, ``requests``,
``approve`` and ``reject`` are in :mod:`.approvals`)."""

from __future__ import annotations

import json
import sys

import click

from ..errors import NbmlopsError
from ._common import fail, table


@click.group()
def models() -> None:
    """List, inspect, promote, roll back and delete registered models."""


@models.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def models_ls(as_json: bool) -> None:
    """Show every registered model with its latest and production version."""
    from ..registry import models as list_models

    try:
        frame = list_models()
    except NbmlopsError as exc:
        fail(exc)
    if as_json:
        click.echo(frame.to_json(orient="records", date_format="iso"))
    elif frame.empty:
        click.echo("no models yet: register one with nbmlops.register_model(model, 'name')")
    else:
        click.echo(table(frame))


@models.command("show")
@click.argument("name")
@click.option("--history", is_flag=True, help="Also print every transition.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of tables.")
def models_show(name: str, history: bool, as_json: bool) -> None:
    """Show the versions of NAME (stage, aliases, run, metrics)."""
    from ..registry import model_history, model_versions

    try:
        versions = model_versions(name)
        changes = model_history(name) if history else None
    except NbmlopsError as exc:
        fail(exc)
    if as_json:
        record = {"versions": json.loads(versions.to_json(orient="records", date_format="iso"))}
        if changes is not None:
            record["history"] = json.loads(changes.to_json(orient="records", date_format="iso"))
        click.echo(json.dumps(record, indent=2))
        return
    shown = versions.copy()
    shown["run_id"] = shown["run_id"].str[:8]
    metric_cols = [c for c in shown.columns if c.startswith("metrics.")][:6]
    click.echo(
        table(
            shown[
                ["version", "stage", "aliases", "run_id", "model_class", "created_at", *metric_cols]
            ]
        )
    )
    if changes is not None:
        click.echo("\nhistory")
        click.echo(table(changes))


@models.command("promote")
@click.argument("name")
@click.argument("version", type=int)
@click.option(
    "--to",
    "stage",
    type=click.Choice(["staging", "production", "archived"]),
    default="production",
    show_default=True,
)
@click.option("--reason", "-r", default=None, help="Why (kept in the history).")
@click.option(
    "--gate",
    "-g",
    "gates",
    multiple=True,
    help='A gate such as "metrics.f1 >= champion.metrics.f1" (repeatable).',
)
def models_promote(name: str, version: int, stage: str, reason: str | None, gates) -> None:
    """Promote VERSION of NAME; exit 1 with the gate table when a gate fails."""
    from ..errors import GateFailed
    from ..registry import promote

    try:
        mv = promote(name, version, to=stage, reason=reason, gates=list(gates) or None)
    except GateFailed as exc:
        click.echo(f"gates failed: {exc}", err=True)
        sys.exit(1)
    except NbmlopsError as exc:
        fail(exc)
    if not hasattr(mv, "uri"):  # a pending request: the policy of NAME asks for approval
        click.echo(f"{mv!r}\nnothing moved yet: approve it with `nbmlops models approve {mv.id}`")
        return
    click.echo(f"{mv.uri} is now {stage}")


@models.command("rollback")
@click.argument("name")
@click.option("--reason", "-r", default=None, help="Why (kept in the history).")
def models_rollback(name: str, reason: str | None) -> None:
    """Put back the production version that the current one replaced."""
    from ..registry import rollback

    try:
        mv = rollback(name, reason=reason)
    except NbmlopsError as exc:
        fail(exc)
    click.echo(f"{mv.uri} is production again")


@models.command("delete")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--reason", "-r", default=None, help="Why (kept in the history).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def models_delete(name: str, version: int, reason: str | None, yes: bool) -> None:
    """Delete VERSION of NAME (not the production version or one holding an alias).

    The deletion is kept in the history and the number is never reused; the model file is
    removed unless another version or a run holds the same content.
    """
    from ..registry import delete_model_version, get_model

    try:
        mv = get_model(name, version)  # ModelNotFound before asking anything
        if not yes:
            click.confirm(f"Delete {mv.uri} ({mv.model_class})?", abort=True, err=True)
        delete_model_version(name, version, reason=reason)
    except NbmlopsError as exc:
        fail(exc)
    click.echo(f"deleted {mv.uri}")


@models.command("card")
@click.argument("ref")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write to this .html or .md file instead of printing Markdown.",
)
def models_card(ref: str, out: str | None) -> None:
    """The model card of REF: NAME (its production version), NAME@ALIAS or models:/NAME/3."""
    from ..registry import model_card

    try:
        card = model_card(ref)
        if out:
            path = card.save(out)
            click.echo(f"wrote {path}")
        else:
            click.echo(card.to_markdown())
    except NbmlopsError as exc:
        fail(exc)
