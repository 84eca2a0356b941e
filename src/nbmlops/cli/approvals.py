"""``nbmlops models policy|requests|approve|reject``: release governance from a terminal.

The identity of a decision is ``NBMLOPS_USER``, else the operating-system user.
"""

from __future__ import annotations

import sys

import click

from ..errors import GateFailed, NbmlopsError
from ._common import fail, table


def _describe(policy: dict) -> list[str]:
    lines = []
    for stage, rule in sorted(policy.items()):
        needs = (
            f"{rule['approvals']} approval{'s' if rule['approvals'] != 1 else ''}"
            + (", separate approver" if rule["separate_approver"] else "")
            if rule["approvals"]
            else "no approval"
        )
        gates = "; gates: " + ", ".join(rule["gates"]) if rule["gates"] else ""
        lines.append(f"{stage}: {needs}{gates}")
    return lines


@click.command("policy")
@click.argument("name")
@click.option(
    "--stage",
    type=click.Choice(["staging", "production", "archived"]),
    default=None,
    help="Set the rule of this stage (with --approvals, --separate-approver, --gate).",
)
@click.option("--approvals", type=click.IntRange(0, 10), default=1, show_default=True)
@click.option("--separate-approver", is_flag=True, help="The requester may not approve.")
@click.option("--gate", "-g", "gates", multiple=True, help="A gate the stage needs (repeatable).")
@click.option("--remove", is_flag=True, help="Remove the rule of --stage (or the whole policy).")
def policy_command(
    name: str, stage: str | None, approvals: int, separate_approver: bool, gates, remove: bool
) -> None:
    """Show the policy of NAME, or set (--stage …) or remove (--remove) a rule."""
    from ..registry import model_policy, set_policy

    try:
        if remove:
            policy = set_policy(name, **({stage: None} if stage else {}))
        elif stage:
            rule = {
                "approvals": approvals,
                "separate_approver": separate_approver,
                "gates": list(gates),
            }
            policy = set_policy(name, **{stage: rule})
        else:
            policy = model_policy(name)
    except NbmlopsError as exc:
        fail(exc)
    if not policy:
        click.echo(f"{name} has no policy: promotions need no approval")
        return
    for line in _describe(policy):
        click.echo(line)


@click.command("requests")
@click.argument("name", required=False)
@click.option(
    "--status",
    type=click.Choice(["pending", "approved", "rejected", "expired", "failed", "all"]),
    default="pending",
    show_default=True,
)
def requests_command(name: str | None, status: str) -> None:
    """List promotion requests (of NAME), newest first."""
    from ..registry import promotion_requests

    try:
        frame = promotion_requests(name, None if status == "all" else status)
    except NbmlopsError as exc:
        fail(exc)
    if frame.empty:
        click.echo(f"no {'' if status == 'all' else status + ' '}promotion requests")
        return
    shown = frame.copy()
    shown["approvals"] = [
        f"{len(a)}/{n}" + (" " + ",".join(a) if a else "")
        for a, n in zip(shown["approvals"], shown["approvals_needed"], strict=True)
    ]
    click.echo(
        table(
            shown[
                [
                    "id",
                    "name",
                    "version",
                    "to_stage",
                    "status",
                    "approvals",
                    "requested_by",
                    "requested_at",
                    "reason",
                ]
            ]
        )
    )


def _decide(decision: str, request_id: int, reason: str | None) -> None:
    from ..registry import approve, reject

    try:
        done = (approve if decision == "approve" else reject)(request_id, reason)
    except GateFailed as exc:
        click.echo(f"gates failed: {exc}", err=True)
        sys.exit(1)
    except NbmlopsError as exc:
        fail(exc)
    click.echo(repr(done))


@click.command("approve")
@click.argument("request_id", type=int)
@click.option("--reason", "-r", default=None, help="Why (kept in the audit log).")
def approve_command(request_id: int, reason: str | None) -> None:
    """Approve request REQUEST_ID as NBMLOPS_USER (or the OS user); the approval that
    completes it re-checks the gates and promotes."""
    _decide("approve", request_id, reason)


@click.command("reject")
@click.argument("request_id", type=int)
@click.option("--reason", "-r", default=None, help="Why (kept in the audit log).")
def reject_command(request_id: int, reason: str | None) -> None:
    """Reject request REQUEST_ID; nothing moves."""
    _decide("reject", request_id, reason)


COMMANDS = (policy_command, requests_command, approve_command, reject_command)
