"""``nbmlops doctor``: is the workspace healthy?

Exits 0 when every check passes, 1 naming each problem found (a damaged database, missing or
corrupted artifacts, a slow server) and 2 when the store cannot be opened (unreachable,
unparsable URL, a file that is not a database). It imports what it needs when it runs, so
``nbmlops --help`` stays fast.
"""

from __future__ import annotations

import sys
import time

import click

from ..errors import NbmlopsError
from ._common import fail, safe_url, size
from .gc import parquet_roots


def _problem(label: str, summary: str, details: list[str] = ()) -> None:
    click.echo(f"{label:<15}PROBLEM: {summary}")
    for line in details:
        click.echo(f"{'':<17}{line}")


@click.command()
@click.option("--full", is_flag=True, help="Verify every stored artifact, not a sample.")
@click.option(
    "--sample",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="How many stored artifacts to read back and verify.",
)
def doctor(full: bool, sample: int) -> None:
    """Check the workspace: settings, database health, artifact digests, counts, stale runs.

    Exits 1 naming every problem found, 0 when all is well, 2 when the store cannot be
    opened at all (the error says why).
    """
    from ..config import get_settings
    from ..errors import StoreError
    from ..store import SCHEMA_VERSION, get_store
    from ..store.doctor import check_artifacts, check_database

    problems = 0
    try:
        settings = get_settings()
    except NbmlopsError as exc:
        fail(exc)
    click.echo(f"workspace      {settings.home}")
    click.echo(f"store          {safe_url(settings.store_url)}")
    click.echo(f"artifacts      {settings.artifacts}")
    click.echo(f"experiment     {settings.experiment}")
    click.echo(
        f"heartbeat      every {settings.heartbeat_s:g}s, stale after {settings.stale_after_s:g}s"
    )
    click.echo(
        f"timeouts       connect {settings.connect_timeout_s:g}s, statement "
        f"{settings.statement_timeout_s:g}s (PostgreSQL); busy {settings.busy_timeout_s:g}s "
        "(SQLite)"
    )
    started = time.perf_counter()
    try:
        store = get_store(settings)
    except NbmlopsError as exc:  # cannot even open it: like every command, exit 2
        fail(exc)
    opened_ms = (time.perf_counter() - started) * 1000

    database = check_database(store.meta.engine)
    if database.ok:
        click.echo(f"database       {database.summary}")
    else:
        problems += 1
        _problem("database", database.summary, database.details)

    try:
        click.echo(
            f"schema         version {store.meta.schema_version()} "
            f"(this nbmlops: {SCHEMA_VERSION}); opened in {opened_ms:.0f} ms"
        )
        killed = store.meta.reap_stale(settings.stale_after_s)
        counts = store.meta.counts()
        click.echo(f"experiments    {counts['experiments']}")
        by_status = ", ".join(f"{k} {v}" for k, v in sorted(counts["by_status"].items()))
        click.echo(f"runs           {counts['runs']}" + (f" ({by_status})" if by_status else ""))
        click.echo(f"metric values  {counts['metrics']}")
        click.echo(f"artifacts      {counts['artifacts']}")
        registered = store.models.list_models()
        n_versions = sum(int(m["versions"] or 0) for m in registered)
        click.echo(f"models         {len(registered)} ({n_versions} versions)")
        if killed:
            click.echo(
                f"stale runs     {len(killed)} marked KILLED now: "
                + ", ".join(r[:8] for r in killed)
            )
        else:
            click.echo("stale runs     none")
        for run in store.meta.running_runs():
            age = time.time() - run["heartbeat_at"]
            click.echo(
                f"  running      {run['run_id'][:8]} {run['name'] or ''} on "
                f"{run['host']} pid {run['pid']}, heartbeat {age:.0f}s ago"
            )
    except StoreError as exc:
        problems += 1
        _problem("records", str(exc))

    verified = check_artifacts(store, None if full else sample)
    if verified.ok:
        click.echo(f"blobs          {verified.summary}")
    else:
        problems += 1
        _problem("blobs", verified.summary, verified.details)

    try:
        from ..store.gc import DEFAULT_GRACE_S, find_garbage

        garbage = find_garbage(store, parquet_roots(settings), DEFAULT_GRACE_S)
    except (NbmlopsError, OSError) as exc:
        click.echo(f"garbage        not checked ({exc})")
    else:
        if garbage:
            total = sum(g.size for g in garbage)
            click.echo(
                f"garbage        {len(garbage)} item(s), {size(total)}: `nbmlops gc` lists them, "
                "`nbmlops gc --yes` removes them"
            )
        else:
            click.echo("garbage        none")

    if problems:
        click.echo(f"{problems} problem{'s' if problems > 1 else ''} found")
        sys.exit(1)
    click.echo("ok")
