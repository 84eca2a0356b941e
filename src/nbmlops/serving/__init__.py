"""Serving registered models: an HTTP server (MLflow scoring protocol and Open Inference
Protocol) that follows the registry, rollouts held in the store (shadow, canary, A/B) with
guards, A/B reports, and batch scoring of files.

Not imported by ``import nbmlops`` (nor by ``nbmlops --help``): Starlette, uvicorn and
prometheus-client load only when a server starts (``pip install nbmlops[serve]``).

>>> import nbmlops
>>> server = nbmlops.serve("churn")  # doctest: +SKIP
>>> nbmlops.rollout("churn", candidate=4, mode="canary", steps=[5, 20, 100])  # doctest: +SKIP
"""

from .abtest import ab_report
from .batch import score_file
from .handle import Server, serve
from .presence import servers
from .rollouts import Rollout, get_rollout, rollout, rollouts

__all__ = [
    "Rollout",
    "ab_report",
    "Server",
    "get_rollout",
    "rollout",
    "rollouts",
    "score_file",
    "serve",
    "servers",
]
