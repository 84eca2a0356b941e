"""``nbmlops audit verify|export|ls``: check the audit log's hash chain and hand it to auditors."""

from __future__ import annotations

import sys

import click

from ..errors import NbmlopsError
from ._common import fail


@click.group("audit")
def audit() -> None:
    """The tamper-evident audit log of registry, policy, approval and rollout events."""


@audit.command("verify")
def verify_command() -> None:
    """Check the hash chain; exit 1 naming the first changed, removed or reordered row."""
    from ..registry.audit import verify_audit

    try:
        result = verify_audit()
    except NbmlopsError as exc:
        fail(exc)
    if result.ok:
        click.echo(result.message)
        return
    click.echo(result.message, err=True)
    sys.exit(1)


@audit.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default=None,
    help="Default: from the file's suffix (.jsonl or .csv).",
)
@click.option("--model", default=None, help="Only the events of this model name.")
def export_command(path: str, fmt: str | None, model: str | None) -> None:
    """Write the audit log to PATH as JSON Lines or CSV, with every row's hashes."""
    from ..registry.audit import export_audit

    try:
        written = export_audit(path, format=fmt, model=model)
    except NbmlopsError as exc:
        fail(exc)
    click.echo(f"wrote {written}")


@audit.command("ls")
@click.option("--model", default=None, help="Only the events of this model name.")
@click.option("--kind", default=None, help="Only kinds starting with this (model., request.).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def ls_command(model: str | None, kind: str | None, limit: int) -> None:
    """The latest events, oldest first."""
    from ..registry.audit import audit_log
    from ._common import table

    try:
        frame = audit_log(model, kind)
    except NbmlopsError as exc:
        fail(exc)
    frame = frame.tail(limit)[["seq", "at", "kind", "subject", "actor"]]
    click.echo(table(frame) if len(frame) else "no audit events")
