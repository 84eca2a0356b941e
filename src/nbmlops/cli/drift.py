"""``nbmlops drift REFERENCE CURRENT``: a drift report of two data files, for CI."""

from __future__ import annotations

import sys

import click

from ..errors import NbmlopsError
from ._common import fail, table


def _names(values: tuple[str, ...]) -> list[str] | None:
    names = [n.strip() for value in values for n in value.split(",") if n.strip()]
    return names or None


@click.command()
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
    from ..monitoring import drift_report
    from ..monitoring.io import read_frame

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
        fail(exc)
    click.echo(report.headline())
    for line in report.explain().splitlines():
        click.echo(f"  {line}")
    perf = report.performance_table
    if perf is not None:
        click.echo("performance")
        click.echo(table(perf))
    if fail_on_drift and report.dataset_drift:
        sys.exit(1)
