"""What every command shares: errors printed as one line with an exit status, times, store
URLs without passwords, DataFrames as plain tables, and commands whose usage errors exit 1.

Nothing here imports more than click at module level, so ``nbmlops --help`` stays fast.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import NoReturn

import click

from ..errors import NbmlopsError


def fail(exc: NbmlopsError, status: int = 2) -> NoReturn:
    """Print the nbmlops message (never a traceback) and exit with ``status``."""
    click.echo(f"error: {exc}", err=True)
    sys.exit(status)


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def safe_url(url: str) -> str:
    """``url`` with its password hidden."""
    from sqlalchemy import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is reported when the store opens
        return url


def table(frame) -> str:
    """A DataFrame as text: times to the second, floats to 4 decimals, missing values blank."""
    shown = frame.copy()
    for column in shown.columns:
        if str(shown[column].dtype).startswith("datetime64"):
            shown[column] = shown[column].dt.strftime("%Y-%m-%d %H:%M:%S")
        elif shown[column].dtype == float:
            shown[column] = shown[column].round(4)
    return shown.astype(object).where(shown.notna(), "").to_string(index=False)


def size(n: int) -> str:
    """A byte count in B, KB, MB or GB."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def age(seconds: float) -> str:
    """A duration as 12s, 5.0m, 3.2h or 1.5d."""
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds / span:.1f}{unit}"
    return f"{seconds:.0f}s"


class ExitOneOnUsageError(click.Command):
    """Usage errors exit 1, not click's 2: for ``run``, ``pipeline`` and ``sweep`` exit status 2
    means a gate failed."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.exit_code = 1
            raise
