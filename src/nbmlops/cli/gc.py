"""``nbmlops gc``: remove the workspace's garbage (a dry run unless ``--yes`` is given)."""

from __future__ import annotations

import click

from ..errors import NbmlopsError
from ._common import age, fail, size


def parquet_roots(settings) -> list[str]:
    """The folders of Parquet files whose rows the store commits (offline features, the
    prediction log)."""
    from ..features import FeatureStore

    return [FeatureStore(settings=settings).offline_url, settings.prediction_log]


@click.command("gc")
@click.option("--yes", "-y", is_flag=True, help="Delete what is listed (default: only list it).")
@click.option(
    "--older-than",
    default="1h",
    show_default=True,
    help="Grace period: only files untouched for this long (90s, 30m, 2h, 7d).",
)
def gc_command(yes: bool, older_than: str) -> None:
    """List (or with --yes delete) temporary files of interrupted writes, orphaned artifact
    blobs and uncommitted Parquet files, with their sizes and why each is garbage."""
    from ..config import get_settings
    from ..store import get_store
    from ..store.gc import find_garbage, parse_age, remove_garbage

    try:
        grace_s = parse_age(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    try:
        settings = get_settings()
        store = get_store(settings)
        garbage = find_garbage(store, parquet_roots(settings), grace_s)
    except NbmlopsError as exc:
        fail(exc)
    if not garbage:
        click.echo(f"nothing to remove (nothing unused is older than {older_than})")
        return
    for item in garbage:
        shown = size(item.size) if item.kind != "pending row" else "-"
        click.echo(f"{shown:>9}  {age(item.age_s):>6} old  {item.path}")
        click.echo(f"{'':>24}{item.reason}")
    total = sum(g.size for g in garbage)
    if not yes:
        click.echo(
            f"{len(garbage)} item(s), {size(total)} in all; nothing was deleted (dry run): "
            "run `nbmlops gc --yes` to delete them"
        )
        return
    try:
        removed = remove_garbage(store, garbage, grace_s)
    except NbmlopsError as exc:
        fail(exc)
    freed = sum(g.size for g in removed)
    kept = len(garbage) - len(removed)
    click.echo(
        f"deleted {len(removed)} item(s), {size(freed)} freed"
        + (f"; {kept} kept (used again or already gone)" if kept else "")
    )
