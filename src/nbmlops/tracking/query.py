"""Looking at runs: ``runs()`` as a DataFrame, ``get_run(id)``, ``experiments()``.

Every read first marks runs whose process stopped sending heartbeats as KILLED, so a table
never shows a dead run as RUNNING.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import TYPE_CHECKING

from .. import _args
from ..config import get_settings
from ..store import Store, get_store
from .run import Run

if TYPE_CHECKING:
    import pandas as pd

BASE_COLUMNS = ["run_id", "experiment", "name", "status", "start_time", "duration_s"]


def _fresh_store() -> Store:
    settings = get_settings()
    store = get_store(settings)
    # Best effort: a read never queues behind another process's long write to mark runs.
    store.meta.reap_stale(settings.stale_after_s, lock_wait_s=0.5)
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
    """All runs as a DataFrame, newest first. ``filter``, ``order_by`` and ``limit`` run in
    SQL, and only the runs returned are read (docs/tracking.md, "What runs in SQL").

    Columns: ``run_id, experiment, name, status, start_time, duration_s`` then ``params.*``,
    ``metrics.*`` (latest values) and ``tags.*``.

    >>> import nbmlops
    >>> nbmlops.runs(filter="metrics.accuracy > 0.9", order_by="metrics.accuracy DESC")  # doctest: +SKIP
    """
    from ._filter import apply_order, newest_first

    _check_selection("runs", experiment, order_by)
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        from ..errors import InvalidFilter

        raise InvalidFilter(f"limit must be a non-negative integer, got {limit!r}")
    store = _fresh_store()
    if filter is not None or order_by or limit is not None:
        frame = _runs_in_sql(store, experiment, filter, order_by, limit)
        if frame is not None:
            frame.attrs.pop("logged_nan", None)  # what ordering needed, not part of the answer
            return frame
    frame = _frame(store.meta.list_runs(experiment))
    frame = apply_order(frame, order_by) if order_by else newest_first(frame)
    if filter is not None:
        frame = _filtered(store, experiment, frame, filter)
    if limit is not None:
        frame = frame.head(limit)
    frame = frame.reset_index(drop=True)
    frame.attrs.pop("logged_nan", None)  # what ordering needed, not part of the answer
    return frame


def _filtered(store: Store, experiment: str | None, frame: pd.DataFrame, text: str):
    """``apply_filter``, with the runs' input data beside them when the filter reads
    ``datasets.*`` (a column of (name, digest, context) tuples, dropped again after)."""
    from ._filter import DATASETS, apply_filter, filter_columns

    if not any(c.startswith(DATASETS + ".") for c in filter_columns(text)):
        return apply_filter(frame, text)
    inputs: dict[str, list[tuple]] = {}
    for run_id, name, digest, info in store.meta.list_inputs(experiment):
        try:
            extra = json.loads(info) if info else {}
        except ValueError:
            extra = {}
        context = extra.get("context") if isinstance(extra, dict) else None
        inputs.setdefault(run_id, []).append((name, digest, context))
    column = [tuple(inputs.get(run_id, ())) for run_id in frame["run_id"]]
    return apply_filter(frame.assign(**{DATASETS: column}), text).drop(columns=[DATASETS])


_CHUNK = 10_000  # run ids read per statement (SQLite binds at most 32,766 values)


def _dynamic(store: Store, experiment: str | None) -> list[str]:
    """The params, metrics and tags columns of the selection, in the order of runs()."""
    keys = store.meta.run_keys(experiment)
    return [f"{kind}.{k}" for kind in ("params", "metrics", "tags") for k in keys[kind]]


def _runs_in_sql(
    store: Store,
    experiment: str | None,
    filter: str | None,  # noqa: A002 - same name as runs()
    order_by: str | list[str] | None,
    limit: int | None,
) -> pd.DataFrame | None:
    """``runs(...)`` with the filter, order and limit run in SQL, and only the runs returned
    read and pivoted, a chunk of ids at a time (``None``: the query needs pandas)."""
    from ._sql import Fallback, RunQuery

    dynamic = _dynamic(store, experiment)
    now = time.time()
    try:
        query = RunQuery(store, experiment, BASE_COLUMNS + dynamic, filter, order_by, now)
        ids = query.page(0, limit if limit is not None else 2**62)
    except Fallback:
        return None
    return _frame_of(store, ids, now, dynamic)


def _frame_of(store: Store, ids: list[str], now: float, dynamic: list[str]) -> pd.DataFrame:
    """The runs table of ``ids``, in that order, with the ``dynamic`` columns."""
    data: dict[str, list] = {"runs": [], "params": [], "metrics": [], "tags": []}
    for start in range(0, len(ids), _CHUNK):
        part = store.meta.list_runs(run_ids=ids[start : start + _CHUNK])
        for name, rows in part.items():
            data[name].extend(rows)
    position = {run_id: i for i, run_id in enumerate(ids)}
    data["runs"].sort(key=lambda r: position[r["run_id"]])
    frame = _frame(data, now, dynamic).reset_index(drop=True)
    if frame.empty:  # as the times of a non-empty table (pandas 3 makes an empty one µs)
        frame["start_time"] = frame["start_time"].astype("datetime64[ns, UTC]")
    return frame


def _frame(
    data: dict[str, list], now: float | None = None, columns: list[str] | None = None
) -> pd.DataFrame:
    """The runs table of ``list_runs`` rows: base columns, then params, metrics, tags
    (``columns`` fixes the dynamic columns instead of taking those the rows have)."""
    import pandas as pd

    now = time.time() if now is None else now
    records, found = _records(data, now)
    frame = pd.DataFrame.from_records(records)
    dynamic = list(columns) if columns is not None else found
    frame = frame.reindex(columns=BASE_COLUMNS + dynamic)
    for column in dynamic:
        if column.startswith("params."):  # the values as logged, not as pandas infers them
            frame[column] = _param_column(
                [record.get(column, _MISSING) for record in records], frame.index
            )
    frame["start_time"] = pd.to_datetime(frame["start_time"].astype(float), unit="s", utc=True)
    frame["duration_s"] = frame["duration_s"].astype(float)
    for column in dynamic:
        if column.startswith("metrics."):
            frame[column] = frame[column].astype(float)
    # A logged NaN and a missing value are both NaN here; ordering tells them apart (MLflow:
    # numbers, then NaN, then runs without the metric), so the logged ones are noted.
    nan_cells: dict[str, list[str]] = {}
    for run_id, key, value in data["metrics"]:
        if value is None:
            nan_cells.setdefault(f"metrics.{key}", []).append(run_id)
    frame.attrs["logged_nan"] = nan_cells
    return frame


def _records(data: dict[str, list], now: float) -> tuple[list[dict], list[str]]:
    """``list_runs`` rows as plain dicts (params keep their JSON types: 50 stays an int; a run
    has only the keys it has values for) and the dynamic columns of all of them, in the order
    of :func:`runs`: params, metrics, tags."""
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
    dynamic = sorted(
        {c for rec in extra.values() for c in rec},
        key=lambda c: (("params.", "metrics.", "tags.").index(c.split(".")[0] + "."), c),
    )
    records = []
    for r in data["runs"]:
        record = {
            "run_id": r["run_id"],
            "experiment": r["experiment"],
            "name": r["name"],
            "status": r["status"],
            "start_time": r["start_time"],
            "duration_s": (r["end_time"] or now) - r["start_time"],
        }
        record.update(extra[r["run_id"]])
        records.append(record)
    return records, dynamic


def run_records(
    experiment: str | None = None,
    filter: str | None = None,  # noqa: A002 - same name as runs()
    order_by: str | list[str] | None = None,
    limit: int | None = 50,
) -> tuple[list[dict], int, list[str]]:
    """The rows of ``runs(experiment, filter, order_by, limit)`` as plain dicts, how many runs
    match, and every column of the selection: what ``nbmlops runs ls`` prints.

    Params keep their types (``50`` stays an int); ``start_time`` is in epoch seconds; every
    row has every column, ``None`` where it has no value. The query runs in SQL and only the
    page's runs are read; without a filter or order no pandas is imported.
    """
    _check_selection("run_records", experiment, order_by)
    if limit is not None:
        _check_bound("limit", limit, 0)
    store = _fresh_store()
    now = time.time()
    page = limit if limit is not None else 2**62
    ids, total, dynamic = _page_ids(store, experiment, filter, order_by, 0, page, now)
    # Every run at once: one read of the experiment's rows instead of a giant IN (...) list.
    data = store.meta.list_runs(experiment) if limit is None else store.meta.list_runs(run_ids=ids)
    records, _found = _records(data, now)
    by_id = {r["run_id"]: r for r in records}
    columns = BASE_COLUMNS + dynamic
    return [{c: by_id[i].get(c) for c in columns} for i in ids if i in by_id], total, columns


def _check_selection(where: str, experiment: object, order_by: object) -> None:
    """Wrong types of the arguments ``runs`` and ``runs_page`` share are InvalidArgumentType
    (a filter that is not a string stays an InvalidFilter, as it always was)."""
    _args.text(experiment, f"{where}(experiment=...)", optional=True)
    _args.strings(order_by, f"{where}(order_by=...)", optional=True)


def _check_bound(label: str, value: object, low: int) -> None:
    # The database counts rows in 64 bits: a larger offset or limit is refused here.
    from ..errors import InvalidFilter

    if not isinstance(value, int) or isinstance(value, bool) or not low <= value < 2**63:
        raise InvalidFilter(
            f"{label} must be an integer between {low} and {2**63 - 1}, got {value!r:.40}"
        )


class _Missing:
    """The cell of a run that has no such param (``None`` is a logged value)."""


_MISSING = _Missing()


def _param_column(values: list, index) -> pd.Series:
    """One ``params.*`` column holding the logged values exactly, missing ones as NaN.

    pandas would turn ``[200, <missing>]`` into ``[200.0, NaN]`` and ``[1, 0.5]`` into floats,
    and a logged ``None`` into NaN: then ``200`` reads back as ``200.0`` and a filter on the
    param's text (``params.max_iter = '200'``) could not match. So a column keeps a numeric
    dtype only when that loses nothing, else it is ``object`` with the values as logged.
    """
    import numpy as np
    import pandas as pd

    kinds = {type(value) for value in values}
    complete = _Missing not in kinds
    kinds.discard(_Missing)
    cells = [np.nan if value is _MISSING else value for value in values]
    lossless = kinds == {float} or (complete and len(kinds) == 1 and kinds <= {int, bool})
    if lossless or kinds == {str}:  # strings: pandas' own string column (str on pandas 3)
        return pd.Series(cells, index=index)
    column = np.empty(len(cells), dtype=object)
    for position, cell in enumerate(cells):  # element-wise: a list value stays one cell
        column[position] = cell
    return pd.Series(column, index=index, dtype=object)


def experiments() -> pd.DataFrame:
    """Experiments with their number of runs."""
    import pandas as pd

    rows = _fresh_store().meta.experiments()
    frame = pd.DataFrame(rows, columns=["experiment_id", "name", "created_at", "runs"])
    frame["created_at"] = pd.to_datetime(frame["created_at"].astype(float), unit="s", utc=True)
    return frame


@dataclasses.dataclass
class RunPage:
    """One page of the runs table: what a run browser shows without loading every run.

    ``frame`` has the columns of :func:`runs` (every param/metric/tag column of the
    selection, so pages line up); ``total`` counts the runs matching the filter.
    """

    frame: pd.DataFrame
    total: int
    offset: int
    limit: int
    columns: list[str]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit)) if self.limit else 1

    @property
    def page(self) -> int:
        """The 0-based number of this page."""
        return self.offset // self.limit if self.limit else 0


def _page_ids(
    store: Store,
    experiment: str | None,
    filter: str | None,  # noqa: A002 - same name as runs()
    order_by: str | list[str] | None,
    offset: int,
    limit: int,
    now: float,
) -> tuple[list[str], int, list[str]]:
    """The run ids of one page, how many runs match, and the selection's dynamic columns.
    Without a filter or order nothing needs pandas."""
    from ..errors import InvalidFilter

    keys = store.meta.run_keys(experiment)
    dynamic = (
        [f"params.{k}" for k in keys["params"]]
        + [f"metrics.{k}" for k in keys["metrics"]]
        + [f"tags.{k}" for k in keys["tags"]]
    )
    if filter is not None and isinstance(filter, str) and not filter.strip():
        filter = None  # noqa: A001 - the empty filter is every run, as in MLflow
    if filter is None and not order_by:
        ids, total = store.meta.page_run_ids(experiment, [], offset, limit, now)
        return ids, total, dynamic
    from ._filter import (
        DATASETS,
        DERIVED,
        apply_order,
        close_keys,
        filter_columns,
        newest_first,
        null_tests,
        order_terms,
    )

    known = BASE_COLUMNS + dynamic
    # An order on a column no run has orders nothing, as in MLflow.
    terms = (
        [(n, d) for n, d in order_terms(order_by) if n in known or n in DERIVED] if order_by else []
    )
    read = {name for name, _ in terms} | (filter_columns(filter) if filter is not None else set())
    read_data = {name for name in read if name.startswith(DATASETS + ".")}
    unknown = sorted(
        read - set(known) - DERIVED - read_data - (null_tests(filter) if filter else set())
    )
    from ._sql import Fallback, RunQuery

    try:
        query = RunQuery(store, experiment, known, filter, order_by, now)
        return query.page(offset, limit), query.count(), dynamic
    except Fallback:
        pass  # the pandas evaluator, over just the columns the query reads
    wanted = {kind: [] for kind in ("params", "metrics", "tags")}
    for name in read:
        kind, _, key = name.partition(".")
        if kind in wanted and key:
            wanted[kind].append(key)
    narrow = _frame(
        store.meta.list_runs(experiment, keys=wanted),
        now,
        [c for c in dynamic if c in read],
    )
    for name in unknown if not narrow.empty else ():
        # A key no run has matches nothing (MLflow); a near miss of a known key is a typo.
        close = close_keys(name, known)
        if close or "." not in name:
            raise InvalidFilter(
                f"cannot use filter {filter!r}: no run has a column {name!r}"
                + (f"; did you mean {', '.join(close)}?" if close else "")
            )
    narrow = apply_order(narrow, order_by) if order_by else newest_first(narrow)
    if filter is not None:
        narrow = _filtered(store, experiment, narrow, filter)
    total = len(narrow)
    ids = list(narrow["run_id"].iloc[offset : offset + limit])
    return ids, total, dynamic


def runs_page(
    experiment: str | None = None,
    filter: str | None = None,  # noqa: A002 - same name as runs()
    order_by: str | list[str] | None = None,
    offset: int = 0,
    limit: int = 50,
) -> RunPage:
    """Rows ``offset … offset+limit`` of ``runs(experiment, filter, order_by)``, fast on
    large workspaces: the filter, ORDER BY, LIMIT and OFFSET run in SQL (:mod:`._sql`), and
    only the page's runs are read in full. A query SQL cannot answer with pandas' meaning
    loads just the columns it reads for every run and is evaluated in pandas.

    >>> import nbmlops
    >>> from nbmlops.tracking.query import runs_page
    >>> page = runs_page(filter="metrics.accuracy > 0.9", offset=50, limit=50)  # doctest: +SKIP
    >>> page.total, page.frame  # doctest: +SKIP
    """
    _check_selection("runs_page", experiment, order_by)
    for label, value, low in (("offset", offset, 0), ("limit", limit, 1)):
        _check_bound(label, value, low)
    store = _fresh_store()
    now = time.time()
    ids, total, dynamic = _page_ids(store, experiment, filter, order_by, offset, limit, now)
    known = BASE_COLUMNS + dynamic
    page = _frame(store.meta.list_runs(run_ids=ids), now, dynamic) if ids else None
    if page is None:
        import pandas as pd

        frame = pd.DataFrame(columns=known)
    else:
        position = {run_id: i for i, run_id in enumerate(ids)}
        frame = page.sort_values("run_id", key=lambda s: s.map(position)).reset_index(drop=True)
    frame.attrs.pop("logged_nan", None)
    return RunPage(frame=frame, total=total, offset=offset, limit=limit, columns=known)
