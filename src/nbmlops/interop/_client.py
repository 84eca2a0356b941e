"""The MLflow client of a tracking URI, paging through its searches, and progress bars."""

from __future__ import annotations

import os
import sys
import warnings
from contextlib import contextmanager

from .. import _args
from ..errors import MlflowStoreError, MlflowUnavailable, NbmlopsError


def check_arguments(where, tracking_uri, experiment, models, progress_bar) -> list[str] | None:
    """The checked arguments of ``import_mlflow``/``export_mlflow``: the experiment names."""
    uri = _args.text(tracking_uri, f"{where}(tracking_uri=...)")
    if not uri.strip():
        raise MlflowStoreError(f"{where} needs a tracking URI, e.g. sqlite:///mlflow.db")
    names = _args.strings(experiment, f"{where}(experiment=...)", optional=True)
    _args.flag(models, f"{where}(models=...)")
    if progress_bar is not None:
        _args.flag(progress_bar, f"{where}(progress_bar=...)")
    return names


@contextmanager
def mlflow_errors(tracking_uri: str):
    """MLflow's and the filesystem's errors as one nbmlops error naming the store."""
    try:
        yield
    except NbmlopsError:
        raise
    except Exception as exc:
        from mlflow.exceptions import MlflowException
        from sqlalchemy.exc import SQLAlchemyError

        if not isinstance(exc, (MlflowException, OSError, SQLAlchemyError)):
            raise
        raise MlflowStoreError(
            f"the MLflow store at {tracking_uri!r:.200} failed: {str(exc)[:500]}; check the "
            "tracking URI (e.g. sqlite:///mlflow.db or http://host:5000) and rerun: what was "
            "done is kept"
        ) from None


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
