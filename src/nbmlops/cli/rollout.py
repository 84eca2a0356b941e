"""``nbmlops rollout start|status|advance|pause|resume|abort``: rollouts of a candidate version,
from a terminal or CI. ``abort`` is the one-command rollback: every server sends all traffic
back to the champion within its poll interval."""

from __future__ import annotations

import json

import click

from ..errors import NbmlopsError
from ._common import fail, table


@click.group()
def rollout() -> None:
    """Shadow, canary and A/B rollouts of a candidate model version."""


def _show(r) -> None:
    status = r.status()
    click.echo(r.headline())
    click.echo(
        f"  steps {status['steps']} every {status['every_s']:g}s, key "
        f"{status['key'] or '(request id)'}"
    )
    if "evaluation" in status:
        click.echo(f"  window: {status['requests']} candidate requests")
        if len(status["evaluation"]):
            click.echo(table(status["evaluation"]))
    if status["alert_id"]:
        click.echo(f"  alert {status['alert_id']} (nbmlops monitor alerts)")


@rollout.command("start")
@click.argument("name")
@click.option("--candidate", required=True, type=int, help="The version to roll out.")
@click.option("--mode", type=click.Choice(["shadow", "canary", "ab"]), default="canary")
@click.option("--steps", default=None, help="Comma-separated percentages, e.g. 5,20,50,100.")
@click.option("--every", default="30m", show_default=True, help="Duration of each step.")
@click.option("--key", default=None, help="Request column that makes the split sticky.")
@click.option("--guard", "guards", multiple=True, help="e.g. 'error_rate < 0.01' (repeat).")
@click.option("--min-requests", default=100, show_default=True, type=int)
@click.option("--gate", "gates", multiple=True, help="Promotion gate at the last step.")
def rollout_start(name, candidate, mode, steps, every, key, guards, min_requests, gates) -> None:
    """Start rolling out version CANDIDATE of NAME."""
    from ..serving.rollouts import rollout as start

    try:
        step_list = None
        if steps:
            step_list = [float(s) for s in steps.split(",")]
        r = start(
            name,
            candidate,
            mode=mode,
            steps=step_list,
            every=every,
            key=key,
            guards=list(guards),
            min_requests=min_requests,
            gates=list(gates) or None,
        )
    except ValueError as exc:
        if not isinstance(exc, NbmlopsError):
            exc = NbmlopsError(f"--steps is comma-separated numbers: {exc}")
        fail(exc)
        return
    except NbmlopsError as exc:
        fail(exc)
        return
    click.echo(r.headline())


@rollout.command("status")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def rollout_status(name: str, as_json: bool) -> None:
    """The latest rollout of NAME (or a rollout id): step, share, guards over the window."""
    from ..serving.rollouts import get_rollout

    try:
        r = get_rollout(name)
        if as_json:
            status = r.status()
            if "evaluation" in status:
                status["evaluation"] = json.loads(status["evaluation"].to_json(orient="records"))
            click.echo(json.dumps(status, default=str, indent=2))
            return
        _show(r)
    except NbmlopsError as exc:
        fail(exc)


def _act(name: str, action: str, **kwargs) -> None:
    from ..serving.rollouts import get_rollout

    try:
        r = getattr(get_rollout(name), action)(**kwargs)
    except NbmlopsError as exc:
        fail(exc)
        return
    click.echo(r.headline())


@rollout.command("advance")
@click.argument("name")
def rollout_advance(name: str) -> None:
    """Move the rollout of NAME to its next step now (a failing guard aborts instead)."""
    _act(name, "advance")


@rollout.command("pause")
@click.argument("name")
def rollout_pause(name: str) -> None:
    """Hold the current split of NAME's rollout (guards still abort)."""
    _act(name, "pause")


@rollout.command("resume")
@click.argument("name")
def rollout_resume(name: str) -> None:
    """Let a paused rollout of NAME advance again."""
    _act(name, "resume")


@rollout.command("abort")
@click.argument("name")
@click.option("--reason", default=None)
def rollout_abort(name: str, reason: str | None) -> None:
    """Send all of NAME's traffic back to the champion now."""
    _act(name, "abort", reason=reason)
