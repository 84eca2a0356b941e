"""``nbmlops monitor run|ls|history|alerts``: monitors from cron and CI.

``monitor run NAME`` exits 0 when the window is fine (or held no traffic), 1 when it raised an
alert — so a scheduler can notify on failure — and 2 on an error (unknown monitor, no
reference data …).
"""

from __future__ import annotations

import json
import sys

import click

from ..errors import NbmlopsError
from ._common import fail


def _table(frame) -> str:
    if frame.empty:
        return "(none)"
    return frame.to_string(index=False, max_colwidth=60)


@click.group()
def monitor() -> None:
    """Run saved monitors of logged predictions; list them, their history and alerts."""


@monitor.command("run")
@click.argument("name")
@click.option("--at", default=None, help="End of the window (ISO time; default: now).")
@click.option("--no-retrain", is_flag=True, help="Do not run the retraining pipeline on alert.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def monitor_run(name: str, at: str | None, no_retrain: bool, as_json: bool) -> None:
    """Check the latest window of monitor NAME; exit 1 on alert."""
    from ..monitoring import get_monitor

    try:
        result = get_monitor(name).run(at=at, retrain=not no_retrain)
    except NbmlopsError as exc:
        fail(exc)
        return
    if as_json:
        click.echo(
            json.dumps(
                {
                    "monitor": result.monitor,
                    "status": result.status,
                    "model_version": result.model_version,
                    "window_start": result.window_start,
                    "window_end": result.window_end,
                    "rows": result.rows,
                    "labelled": result.labelled,
                    "checks": json.loads(result.checks.to_json(orient="records")),
                    "metrics": result.metrics,
                    "alert": result.alert,
                    "retrain": result.retrain,
                },
                default=str,
            )
        )
    else:
        click.echo(result.summary())
        click.echo(_table(result.checks.drop(columns=["columns"])))
        if result.alert and result.alert.get("report_html"):
            click.echo(f"report: {result.alert['report_html']}")
    sys.exit(1 if result.alerted else 0)


@monitor.command("ls")
def monitor_ls() -> None:
    """Every saved monitor and its last run."""
    from ..monitoring import monitors

    try:
        click.echo(_table(monitors()))
    except NbmlopsError as exc:
        fail(exc)


@monitor.command("history")
@click.argument("name")
def monitor_history(name: str) -> None:
    """One line per run of monitor NAME."""
    from ..monitoring import get_monitor

    try:
        frame = get_monitor(name).history()
    except NbmlopsError as exc:
        fail(exc)
        return
    click.echo(_table(frame.drop(columns=["report_id"])))


@monitor.command("alerts")
@click.argument("name", required=False)
def monitor_alerts(name: str | None) -> None:
    """Alerts (of monitor NAME), with what retraining did."""
    from ..monitoring import alerts

    try:
        click.echo(_table(alerts(monitor=name)))
    except NbmlopsError as exc:
        fail(exc)
