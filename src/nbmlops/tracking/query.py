"""Looking at runs: ``runs()`` as a DataFrame, ``get_run(id)``, ``experiments()``.

Every read first marks runs whose process stopped sending heartbeats as KILLED, so a table
never shows a dead run as RUNNING.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from ..config import get_settings
from ..store import Store, get_store
from .run import Run

if TYPE_CHECKING:
    import pandas as pd

BASE_COLUMNS = ["run_id", "experiment", "name", "status", "start_time", "duration_s"]


def _fresh_store() -> Store:
    settings = get_settings()
    store = get_store(settings)
    store.meta.reap_stale(settings.stale_after_s)
    return store


def get_run(run_id: str) -> Run:
    """The run with id ``run_id``; a unique prefix of the id works too.

    >>> import nbmlops
    >>> run = nbmlops.get_run("3f2a9c")  # doctest: +SKIP
    >>> run.metrics, run.params  # doctest: +SKIP
    """
    store = _fresh_store()
    return Run(store, store.meta.resolve_run_id(run_id))


def runs(
    experiment: str | None = None,
    filter: str | None = None,  # noqa: A002 - the name MLflow users know
    order_by: str | list[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """All runs as a DataFrame, newest first.

    Columns: ``run_id, experiment, name, status, start_time, duration_s`` then ``params.*``,
    ``metrics.*`` (latest values) and ``tags.*``.

    >>> import nbmlops
    >>> nbmlops.runs(filter="metrics.accuracy > 0.9", order_by="metrics.accuracy DESC")  # doctest: +SKIP
    """
    import pandas as pd

    from ._filter import apply_filter, apply_order

    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        from ..errors import InvalidFilter

        raise InvalidFilter(f"limit must be a non-negative integer, got {limit!r}")
    store = _fresh_store()
    data = store.meta.list_runs(experiment)
    now = time.time()
    extra: dict[str, dict[str, object]] = {r["run_id"]: {} for r in data["runs"]}
    for run_id, key, value in data["params"]:
        if run_id in extra:
            extra[run_id][f"params.{key}"] = json.loads(value)
    for run_id, key, value in data["metrics"]:
        if run_id in extra:
            extra[run_id][f"metrics.{key}"] = float("nan") if value is None else value
    for run_id, key, value in data["tags"]:
        if run_id in extra:
            extra[run_id][f"tags.{key}"] = value
    records = [
        {
            "run_id": r["run_id"],
            "experiment": r["experiment"],
            "name": r["name"],
            "status": r["status"],
            "start_time": r["start_time"],
            "duration_s": (r["end_time"] or now) - r["start_time"],
            **extra[r["run_id"]],
        }
        for r in data["runs"]
    ]
    frame = pd.DataFrame.from_records(records)
    dynamic = sorted(
        {c for rec in extra.values() for c in rec},
        key=lambda c: (("params.", "metrics.", "tags.").index(c.split(".")[0] + "."), c),
    )
    frame = frame.reindex(columns=BASE_COLUMNS + dynamic)
    frame["start_time"] = pd.to_datetime(frame["start_time"].astype(float), unit="s", utc=True)
    frame["duration_s"] = frame["duration_s"].astype(float)
    for column in dynamic:
        if column.startswith("metrics."):
            frame[column] = frame[column].astype(float)
    frame = (
        apply_order(frame, order_by)
        if order_by
        else frame.sort_values("start_time", ascending=False, kind="stable")
    )
    if filter is not None:
        frame = apply_filter(frame, filter)
    if limit is not None:
        frame = frame.head(limit)
    return frame.reset_index(drop=True)


def experiments() -> pd.DataFrame:
    """Experiments with their number of runs."""
    import pandas as pd

    rows = _fresh_store().meta.experiments()
    frame = pd.DataFrame(rows, columns=["experiment_id", "name", "created_at", "runs"])
    frame["created_at"] = pd.to_datetime(frame["created_at"].astype(float), unit="s", utc=True)
    return frame
