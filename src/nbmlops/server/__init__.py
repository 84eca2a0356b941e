"""The jupyter_server extension behind the JupyterLab "MLOps" panel.

It serves a small REST API under ``/nbmlops/api/`` over the Python APIs of tracking, the
model registry and monitoring (see :mod:`nbmlops.server.handlers`). Installing nbmlops
enables it (``etc/jupyter/jupyter_server_config.d/nbmlops.json`` in the wheel); by hand:
``jupyter server extension enable nbmlops.server``.

Needs ``jupyter_server`` (the ``lab`` extra); nothing else in nbmlops imports this package.
"""

from __future__ import annotations

from typing import Any

__all__ = ["_jupyter_server_extension_points", "_load_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "nbmlops.server"}]


def _load_jupyter_server_extension(server_app) -> None:
    """Add the API's handlers to the running server."""
    from .handlers import setup_handlers

    setup_handlers(server_app.web_app)
    server_app.log.info("nbmlops: REST API at %snbmlops/api/", server_app.base_url)
