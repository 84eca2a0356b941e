"""``nbmlops score MODEL IN.parquet -o OUT.parquet``: batch scoring of Parquet data, streaming by
row groups with a progress bar, logging predictions like a server, here or on a Dask cluster."""

from __future__ import annotations

import click

from ..errors import NbmlopsError
from ._common import fail


@click.command("score")
@click.argument("model")
@click.argument("source")
@click.option("-o", "--output", required=True, help="Output Parquet file (any fsspec URL).")
@click.option(
    "--batch-rows",
    default=100_000,
    show_default=True,
    type=click.IntRange(1),
    help="Rows read, scored and written at a time (bounds memory).",
)
@click.option("--id-column", default=None, help="Input column to use as prediction ids.")
@click.option("--no-log", is_flag=True, help="Do not write the predictions to the log.")
@click.option("--trusted", is_flag=True, help="Load pickled models (they can run code).")
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default=None,
    help="Score here (local, the default) or on a Dask cluster (dask).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Dask scheduler, e.g. tcp://host:8786 (implies --engine dask; without it, the "
    "engine starts a local cluster).",
)
def score_command(
    model, source, output, batch_rows, id_column, no_log, trusted, engine, scheduler
) -> None:
    """Score SOURCE (a Parquet file, folder or glob) with MODEL (churn,
    models:/churn@production)."""
    from ..serving.batch import score_file

    try:
        result = score_file(
            model,
            source,
            output,
            batch_rows=batch_rows,
            log=not no_log,
            ids=id_column,
            trusted=trusted,
            engine=engine,
            scheduler=scheduler,
        )
    except NbmlopsError as exc:
        fail(exc)
        return
    rate = result["rows"] / result["seconds"] if result["seconds"] else 0
    click.echo(
        f"scored {result['rows']} rows with v{result['version']} in "
        f"{result['seconds']:.1f}s ({rate:,.0f} rows/s) -> {output}"
    )
