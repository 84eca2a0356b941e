"""``nbmlops serve MODEL...``: serve registered models over HTTP until SIGTERM or Ctrl-C.

uvicorn runs the app in this process (``--workers 1``) or in N worker processes; on SIGTERM it
stops accepting, finishes the requests in flight, and the app writes every queued prediction
to the log before the process exits.
"""

from __future__ import annotations

import json
import os

import click

from ..errors import NbmlopsError
from ._common import fail


@click.command("serve")
@click.argument("models", nargs=-1, required=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; anything but loopback needs --token.",
)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--token",
    default=None,
    envvar="NBMLOPS_SERVE_TOKEN",
    help="Bearer token clients must send (env NBMLOPS_SERVE_TOKEN).",
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--poll",
    default=1.0,
    show_default=True,
    type=float,
    help="Seconds between checks of the registry's stages, aliases and rollouts.",
)
@click.option(
    "--max-body-bytes",
    default=10 * 1024 * 1024,
    show_default=True,
    type=int,
    help="Larger request bodies get HTTP 413.",
)
@click.option(
    "--evaluate-every",
    default=10.0,
    show_default=True,
    type=float,
    help="Seconds between evaluations of running rollouts' guards.",
)
@click.option(
    "--id-column",
    "id_columns",
    multiple=True,
    help="A request column accepted (and logged) beside the model's columns.",
)
@click.option("--no-log", is_flag=True, help="Do not write served predictions to the log.")
@click.option("--trusted", is_flag=True, help="Load pickled models (they can run code).")
def serve_command(
    models,
    host,
    port,
    token,
    workers,
    poll,
    max_body_bytes,
    evaluate_every,
    id_columns,
    no_log,
    trusted,
) -> None:
    """Serve MODELS (churn, churn@staging, models:/churn/3) over HTTP.

    POST /invocations (MLflow's scoring protocol), /v2/models/NAME/infer (Open Inference
    Protocol); GET /health, /version, /metrics.
    """
    import uvicorn

    from ..serving.app import OPTIONS_ENV, app_from_environment
    from ..serving.state import ServeOptions, ServingState

    options = {
        "models": list(models),
        "host": host,
        "port": port,
        "token": token,
        "poll": poll,
        "max_body_bytes": max_body_bytes,
        "log_predictions": not no_log,
        "evaluate_every": evaluate_every,
        "trusted": trusted,
        "workers": workers,
        "id_columns": list(id_columns),
    }
    try:
        ServingState(ServeOptions(**options))  # every error before the port opens
    except NbmlopsError as exc:
        fail(exc)
        return
    os.environ[OPTIONS_ENV] = json.dumps(options)
    click.echo(
        f"serving {', '.join(models)} on http://{host}:{port} ({workers} worker(s))", err=True
    )
    if workers == 1:
        uvicorn.run(
            app_from_environment(),
            host=host,
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=30,
        )
    else:
        uvicorn.run(
            "nbmlops.serving.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            timeout_graceful_shutdown=30,
        )
