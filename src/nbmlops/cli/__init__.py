"""The ``nbmlops`` command line: ``run NOTEBOOK``, ``runs ls|show|reproduce``,
``models ls|show|promote|rollback|delete|card``, ``features ls|show|materialize``,
``drift``, ``monitor run|ls|history|alerts``, ``doctor``, ``gc``.

Every command is a thin face over the Python API; errors print the nbmlops message (no
traceback) and exit with status 2.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from .errors import NbmlopsError


def _fail(exc: NbmlopsError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _safe_url(url: str) -> str:
    from sqlalchemy import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is reported by get_store below
        return url


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nbmlops")
def main() -> None:
    """nbmlops: experiment runs, models and pipelines from your notebooks."""


@main.group()
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
    from . import _cli_table
    from .tracking.query import run_records

    try:
        records, total, available = run_records(
            experiment=experiment, filter=filter_, order_by=order_by, limit=limit or None
        )
    except NbmlopsError as exc:
        _fail(exc)
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        missing = [c for c in wanted if c not in available]
        if missing:
            _fail(NbmlopsError(f"unknown columns {missing}; available: {available}"))
    else:
        wanted = available if as_json else _cli_table.default_columns(available)
    if as_json:
        click.echo(_cli_table.to_json([{c: r[c] for c in wanted} for r in records]))
        return
    if not records:
        click.echo("no runs yet: track a notebook cell with %%track or nbmlops.start_run()")
        return
    click.echo(_cli_table.render(records, wanted))
    if len(records) < total:
        click.echo(f"({len(records)} of {total:,} runs; --limit 0 shows all)", err=True)


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def runs_show(run_id: str, as_json: bool) -> None:
    """Show one run: status, params, metrics, tags, data, artifacts and environment."""
    from .tracking import get_run

    try:
        run = get_run(run_id)
        info = run.info
        record = {
            "run_id": run.run_id,
            "name": info["name"],
            "experiment": info["experiment"],
            "status": info["status"],
            "start_time": _when(info["start_time"]),
            "end_time": _when(info["end_time"]),
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
        _fail(exc)
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


@main.group()
def models() -> None:
    """List, inspect, promote, roll back and delete registered models."""


def _table(frame) -> str:
    shown = frame.copy()
    for column in shown.columns:
        if str(shown[column].dtype).startswith("datetime64"):
            shown[column] = shown[column].dt.strftime("%Y-%m-%d %H:%M:%S")
        elif shown[column].dtype == float:
            shown[column] = shown[column].round(4)
    return shown.astype(object).where(shown.notna(), "").to_string(index=False)


@models.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def models_ls(as_json: bool) -> None:
    """Show every registered model with its latest and production version."""
    from .registry import models as list_models

    try:
        frame = list_models()
    except NbmlopsError as exc:
        _fail(exc)
    if as_json:
        click.echo(frame.to_json(orient="records", date_format="iso"))
    elif frame.empty:
        click.echo("no models yet: register one with nbmlops.register_model(model, 'name')")
    else:
        click.echo(_table(frame))


@models.command("show")
@click.argument("name")
@click.option("--history", is_flag=True, help="Also print every transition.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of tables.")
def models_show(name: str, history: bool, as_json: bool) -> None:
    """Show the versions of NAME (stage, aliases, run, metrics)."""
    from .registry import model_history, model_versions

    try:
        versions = model_versions(name)
        changes = model_history(name) if history else None
    except NbmlopsError as exc:
        _fail(exc)
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
        _table(
            shown[
                ["version", "stage", "aliases", "run_id", "model_class", "created_at", *metric_cols]
            ]
        )
    )
    if changes is not None:
        click.echo("\nhistory")
        click.echo(_table(changes))


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
    from .errors import GateFailed
    from .registry import promote

    try:
        mv = promote(name, version, to=stage, reason=reason, gates=list(gates) or None)
    except GateFailed as exc:
        click.echo(f"gates failed: {exc}", err=True)
        sys.exit(1)
    except NbmlopsError as exc:
        _fail(exc)
    click.echo(f"{mv.uri} is now {stage}")


@models.command("rollback")
@click.argument("name")
@click.option("--reason", "-r", default=None, help="Why (kept in the history).")
def models_rollback(name: str, reason: str | None) -> None:
    """Put back the production version that the current one replaced."""
    from .registry import rollback

    try:
        mv = rollback(name, reason=reason)
    except NbmlopsError as exc:
        _fail(exc)
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
    from .registry import delete_model_version, get_model

    try:
        mv = get_model(name, version)  # ModelNotFound before asking anything
        if not yes:
            click.confirm(f"Delete {mv.uri} ({mv.model_class})?", abort=True, err=True)
        delete_model_version(name, version, reason=reason)
    except NbmlopsError as exc:
        _fail(exc)
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
    from .registry import model_card

    try:
        card = model_card(ref)
        if out:
            path = card.save(out)
            click.echo(f"wrote {path}")
        else:
            click.echo(card.to_markdown())
    except NbmlopsError as exc:
        _fail(exc)


def _names(values: tuple[str, ...]) -> list[str] | None:
    names = [n.strip() for value in values for n in value.split(",") if n.strip()]
    return names or None


@main.command()
@click.argument("reference")
@click.argument("current")
@click.option("--target", "-y", default=None, help="Target column.")
@click.option("--prediction", "-p", default=None, help="Prediction column.")
@click.option("--columns", "-c", multiple=True, help="Only these columns (repeatable, or a,b).")
@click.option("--categorical", multiple=True, help="Treat these columns as categories.")
@click.option("--segments", "-s", multiple=True, help="Segment columns for attribution.")
@click.option("--threshold", type=float, default=None, help="One threshold for every column.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the standalone HTML report here.",
)
@click.option("--cdn", is_flag=True, help="Load plotly.js from its CDN (small HTML file).")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the report as JSON here.",
)
@click.option("--save", "save_name", default=None, help="Save in the workspace under a name.")
@click.option("--fail-on-drift", is_flag=True, help="Exit 1 when the dataset drifted.")
def drift(
    reference,
    current,
    target,
    prediction,
    columns,
    categorical,
    segments,
    threshold,
    html_path,
    cdn,
    json_path,
    save_name,
    fail_on_drift,
) -> None:
    """Compare CURRENT with REFERENCE (CSV or Parquet files) column by column."""
    from .monitoring import drift_report
    from .monitoring.io import read_frame

    try:
        ref, cur = read_frame(reference), read_frame(current)
        report = drift_report(
            ref,
            cur,
            target=target,
            prediction=prediction,
            columns=_names(columns),
            categorical=_names(categorical),
            segments=_names(segments),
            threshold=threshold,
            progress=sys.stderr.isatty() or None,
        )
        if html_path:
            report.to_html(html_path, plotlyjs="cdn" if cdn else "inline")
        if json_path:
            report.to_json(json_path, indent=2)
        if save_name:
            report.save(name=save_name)
    except NbmlopsError as exc:
        _fail(exc)
    click.echo(report.headline())
    for line in report.explain().splitlines():
        click.echo(f"  {line}")
    perf = report.performance_table
    if perf is not None:
        click.echo("performance")
        click.echo(_table(perf))
    if fail_on_drift and report.dataset_drift:
        sys.exit(1)


@main.group()
def features() -> None:
    """List feature views, show one, materialize them into the online store."""


@features.command("ls")
@click.argument("search", required=False)
@click.option("--fields", is_flag=True, help="One row per field instead of per view.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
def features_ls(search: str | None, fields: bool, as_json: bool) -> None:
    """List registered feature views (latest versions), optionally matching SEARCH."""
    from .features import catalog

    try:
        frame = catalog(search, fields=fields)
    except NbmlopsError as exc:
        _fail(exc)
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
        click.echo(_table(frame))


@features.command("show")
@click.argument("name")
@click.option("--version", "-v", "version", type=int, default=None, help="A past version.")
@click.option("--json", "as_json", is_flag=True, help="Print the definition as JSON.")
def features_show(name: str, version: int | None, as_json: bool) -> None:
    """Show the definition, versions and materializations of feature view NAME."""
    from .features import default_store

    fs = default_store()
    try:
        view = fs.get_view(name, version)
        versions = fs.versions(name)
    except NbmlopsError as exc:
        _fail(exc)
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
            f"  last materialized: v{last['version']} up to {_when(last['end_time'])} into "
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

    click.echo(_table(pd.DataFrame(fields)))
    click.echo("\nversions")
    click.echo(_table(versions))


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
    from .features import FeatureStore

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
        _fail(exc)
    finally:
        fs.close()
    if done.empty:
        click.echo(
            "no feature views to materialize: register one with nbmlops.features.apply(view)"
        )
        return
    for row in done.itertuples():
        click.echo(f"{row.view} v{row.version}: {row.rows:,} rows written up to {row.end}")


# `nbmlops pipeline run|show` and `nbmlops sweep` live in their own module.
from ._cli_pipelines import pipeline as _pipeline_group  # noqa: E402
from ._cli_pipelines import sweep_command as _sweep_command  # noqa: E402

main.add_command(_pipeline_group)
main.add_command(_sweep_command)

# `nbmlops run NOTEBOOK` and `nbmlops runs reproduce RUN_ID`.
from ._cli_run import reproduce_command as _reproduce_command  # noqa: E402
from ._cli_run import run_command as _run_command  # noqa: E402

main.add_command(_run_command)
runs.add_command(_reproduce_command)

# `nbmlops monitor run|ls|history|alerts`.
from ._cli_monitor import monitor as _monitor_group  # noqa: E402

main.add_command(_monitor_group)

# `nbmlops doctor` and `nbmlops gc`.
from ._cli_doctor import doctor as _doctor_command  # noqa: E402
from ._cli_doctor import gc_command as _gc_command  # noqa: E402

main.add_command(_doctor_command)
main.add_command(_gc_command)


if __name__ == "__main__":  # pragma: no cover
    main()
