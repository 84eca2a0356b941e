"""``nbmlops features ls|show|materialize``."""

from __future__ import annotations

import json

import click

from ..errors import NbmlopsError
from ._common import fail, table, when


@click.group()
def features() -> None:
    """List feature views, show one, materialize them into the online store."""


@features.command("ls")
@click.argument("search", required=False)
@click.option("--fields", is_flag=True, help="One row per field instead of per view.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def features_ls(search: str | None, fields: bool, as_json: bool) -> None:
    """List registered feature views (latest versions), optionally matching SEARCH."""
    from ..features import catalog

    try:
        frame = catalog(search, fields=fields)
    except NbmlopsError as exc:
        fail(exc)
    if as_json:
        click.echo(frame.to_json(orient="records", date_format="iso", default_handler=str))
    elif frame.empty:
        click.echo(
            "no feature views"
            + (
                f" match {search!r}"
                if search
                else " yet: register one with nbmlops.features.apply(view)"
            )
        )
    else:
        if "ttl" in frame.columns:
            frame = frame.assign(ttl=frame["ttl"].astype(str).replace("NaT", "none"))
        if "tags" in frame.columns:
            frame = frame.assign(tags=frame["tags"].map(lambda t: json.dumps(t) if t else ""))
        click.echo(table(frame))


@features.command("show")
@click.argument("name")
@click.option("--version", "-v", "version", type=int, default=None, help="A past version.")
@click.option("--json", "as_json", is_flag=True, help="Print the definition as JSON.")
def features_show(name: str, version: int | None, as_json: bool) -> None:
    """Show the definition, versions and materializations of feature view NAME."""
    from ..features import default_store

    fs = default_store()
    try:
        view = fs.get_view(name, version)
        versions = fs.versions(name)
    except NbmlopsError as exc:
        fail(exc)
    done = fs.records.materializations(name)
    writes = fs.records.writes(name, view.version)
    if as_json:
        doc = {**view.to_dict(), "version": view.version, "digest": view.digest}
        doc["transformation"] = view.transformation_source
        doc["offline_rows"] = sum(w["rows"] or 0 for w in writes)
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    ttl = "none" if view.ttl is None else f"{view.ttl:g} s"
    click.echo(f"{view.name} v{view.version} ({view.digest[:12]}): {view.description}".rstrip(": "))
    click.echo(
        f"  entities: {', '.join(e.name for e in view.entities)}; keys: {', '.join(view.join_keys)}"
    )
    click.echo(
        f"  timestamp: {view.timestamp}; created: {view.created_timestamp or '-'}; ttl: {ttl}"
    )
    if view.owner or view.tags:
        click.echo(f"  owner: {view.owner or '-'}; tags: {json.dumps(view.tags)}")
    click.echo(f"  offline: {sum(w['rows'] or 0 for w in writes):,} rows in {len(writes)} write(s)")
    if done:
        last = done[-1]
        click.echo(
            f"  last materialized: v{last['version']} up to {when(last['end_time'])} into "
            f"{last['online_store']} ({last['rows']:,} row{'' if last['rows'] == 1 else 's'})"
        )
    click.echo("\nfields")
    fields = [
        {
            "field": f.name,
            "dtype": f.dtype,
            "nullable": f.nullable,
            "min": f.min,
            "max": f.max,
            "description": f.description,
        }
        for f in view.fields
    ]
    import pandas as pd

    click.echo(table(pd.DataFrame(fields)))
    click.echo("\nversions")
    click.echo(table(versions))


@features.command("materialize")
@click.option("--start", default=None, help="Earliest event time (default: no limit).")
@click.option("--end", default=None, help="Latest event time (default: now).")
@click.option("--incremental", is_flag=True, help="Continue from the previous materialization.")
@click.option("--view", "views", multiple=True, help="Only this view (repeatable).")
@click.option("--online", default=None, help="Online store URL (default: the workspace's).")
def features_materialize(
    start: str | None,
    end: str | None,
    incremental: bool,
    views: tuple[str, ...],
    online: str | None,
) -> None:
    """Load the latest offline feature values into the online store."""
    from ..features import FeatureStore

    fs = FeatureStore(online=online)
    try:
        if incremental:
            if start:
                raise click.UsageError(
                    "--incremental continues where the last run stopped; drop --start"
                )
            done = fs.materialize_incremental(end, list(views) or None)
        else:
            done = fs.materialize(start, end, list(views) or None)
    except NbmlopsError as exc:
        fail(exc)
    finally:
        fs.close()
    if done.empty:
        click.echo(
            "no feature views to materialize: register one with nbmlops.features.apply(view)"
        )
        return
    for row in done.itertuples():
        click.echo(f"{row.view} v{row.version}: {row.rows:,} rows written up to {row.end}")
