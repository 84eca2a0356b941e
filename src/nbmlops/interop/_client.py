"""The MLflow client of a tracking URI, paging through its searches, and progress bars."""

from __future__ import annotations

import os
import sys
import warnings

from ..errors import MlflowUnavailable


def client_for(tracking_uri: str):
    """An ``MlflowClient`` for ``tracking_uri`` (tracking and registry)."""
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise MlflowUnavailable(
            "moving runs to or from MLflow needs mlflow: pip install mlflow"
        ) from None
    warnings.filterwarnings("ignore", category=FutureWarning, module="mlflow")
    # One progress bar (ours) rather than one of MLflow's per run downloaded.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def paged(search, *args, **kwargs):
    """Every item of an MLflow search, page after page."""
    token = None
    while True:
        page = search(*args, page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


def progress(items: list, what: str, enabled: bool | None):
    """``items`` with a tqdm bar on stderr (by default only when stderr is a terminal)."""
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(items, desc=what, unit="", disable=not show, leave=False)
