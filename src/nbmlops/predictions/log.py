"""The prediction log: what a model was asked, what it answered, and (later) what was true.

``nbmlops.score(model_uri, df)`` (or ``ModelVersion.predict(df, log=True)``) appends the input
rows, the predictions, the model version, the time and an id per row to the log
(:func:`log_predictions`); ``log_labels`` records ground truth when it arrives, joined by id
when the log is read. This module knows models only by name and version number: the registry,
the monitors and (later) a model server all write and read it from above.

Layout: one Parquet file per write, ``<root>/<model>/date=YYYY-MM-DD/<time>-<random>.parquet``
(labels under ``<root>/_labels/``), where ``<root>`` is the ``prediction_log`` setting (the
workspace's ``predictions/`` folder or any fsspec URL). A file is written completely (atomically
on a local disk, one PUT on object stores) before its row is added to the metadata store, and
readers only open files that have a row: concurrent writers never share a file, so no row is
lost and none is half-read. Columns named by the ``log_redact`` setting (and ``redact=``) are
dropped before anything is written; ``log_retention_days`` removes older files on each write.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import TYPE_CHECKING, Any

from .._args import MAX_EPOCH_S
from ..config import get_settings
from ..errors import PredictionLogError
from ..store import get_store
from ..store.names import model_name, version_number

if TYPE_CHECKING:
    import pandas as pd

ID, VERSION, TIME, PREDICTION = "prediction_id", "model_version", "predicted_at", "prediction"
LABEL, LABEL_TIME = "label", "labelled_at"
# Written by a model server beside each prediction: which request, which rollout arm
# (champion, candidate, shadow), and how long the request took.
REQUEST_ID, ARM, LATENCY_MS = "request_id", "rollout_arm", "latency_ms"
SERVING = (REQUEST_ID, ARM, LATENCY_MS)
RESERVED = (ID, VERSION, TIME, PREDICTION, LABEL, LABEL_TIME, *SERVING)
LABELS_DIR = "_labels"
_HASH_BUCKETS = 10_000


def to_epoch(at: Any = None) -> float:
    """Seconds since the epoch for ``at``: None (now), a number, a string or a datetime
    (naive values are UTC)."""
    import pandas as pd

    if at is None:
        return time.time()
    if isinstance(at, bool):
        raise PredictionLogError(f"at= takes a time, got {at!r}")
    if isinstance(at, (int, float)):
        seconds = float(at) if abs(at) < 1e300 else math.inf
        if not math.isfinite(seconds) or abs(seconds) > MAX_EPOCH_S:
            raise PredictionLogError(
                f"at= must be a finite time in seconds since the epoch (years 1677-2262), "
                f"got {at!r:.40}"
            )
        return seconds
    try:
        stamp = pd.Timestamp(at)
    except (TypeError, ValueError, OverflowError):
        raise PredictionLogError(
            f"at= takes a datetime, an ISO date string or epoch seconds, got {at!r:.60}"
        ) from None
    if stamp is pd.NaT:
        raise PredictionLogError("at= cannot be NaT")
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.timestamp()


def _day(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d")


def _files():
    from ..store.parquet_files import ParquetFiles

    return ParquetFiles(get_settings().prediction_log)


def _new_path(files, folder: str, epoch: float) -> str:
    return f"{files.root}/{folder}/date={_day(epoch)}/{int(epoch * 1000):014d}-{uuid.uuid4().hex}.parquet"


def redacted_columns(extra: Any = None) -> set[str]:
    """Columns never written: the ``log_redact`` setting plus ``extra``."""
    names = set(get_settings().log_redact)
    if extra is not None:
        if isinstance(extra, str):
            extra = [extra]
        if not all(isinstance(c, str) for c in extra):
            raise PredictionLogError(f"redact= is a list of column names, got {extra!r}")
        names |= set(extra)
    return names


def input_frame(data: Any) -> pd.DataFrame:
    """``data`` as a DataFrame of inputs that can be logged (string column names, none reserved)."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, np.ndarray) and data.ndim == 2:
        frame = pd.DataFrame(data, columns=[f"x{i}" for i in range(data.shape[1])])
    else:
        raise PredictionLogError(
            f"the prediction log takes a DataFrame (or a 2-D array), got {type(data).__name__}"
        )
    if len(set(map(str, frame.columns))) != frame.shape[1]:
        raise PredictionLogError("column names must be unique to be logged")
    clash = [c for c in map(str, frame.columns) if c in RESERVED]
    if clash:
        raise PredictionLogError(
            f"input columns {clash} clash with the log's own columns {list(RESERVED)}; rename them"
        )
    return frame.rename(columns=str)


def prediction_ids(frame: pd.DataFrame, ids: Any, redacted: set[str]):
    """``(one id string per row, the id column or None)`` from ``ids`` (see :func:`log_predictions`)."""
    import numpy as np

    if ids is None:
        return np.array([uuid.uuid4().hex for _ in range(len(frame))], dtype=object), None
    if isinstance(ids, str):
        if ids not in frame.columns:
            raise PredictionLogError(f"ids={ids!r} is not a column of the data")
        if ids in redacted:
            raise PredictionLogError(f"the id column {ids!r} is redacted; use another id")
        values, column = frame[ids].to_numpy(), ids
    else:
        values, column = np.asarray(ids), None
    if values.ndim != 1 or len(values) != len(frame):
        raise PredictionLogError(f"ids must give one id per row ({len(frame)}), got {values.shape}")
    strings = np.array([str(v) for v in values], dtype=object)
    if len(set(strings)) != len(strings):
        raise PredictionLogError("ids must be unique within a write (they join late labels)")
    return strings, column


def log_predictions(
    name: str,
    version: int,
    data: Any,
    predictions: Any,
    ids: Any = None,
    at: Any = None,
    redact: Any = None,
    serving: dict[str, Any] | None = None,
) -> Any:
    """Append ``data`` and ``predictions`` of version ``version`` of model ``name`` to the
    prediction log; return the ids of the rows (``ids``: a column of ``data``, one id per row,
    or None for random ones). ``at`` is one time for every row (default now) or one time per
    row. ``serving`` adds the model server's columns (``request_id``, ``rollout_arm``,
    ``latency_ms``), one value per row, after the prediction."""
    import numpy as np
    import pyarrow as pa

    frame = input_frame(data)
    redacted = redacted_columns(redact)
    row_ids, id_column = prediction_ids(frame, ids, redacted)
    pred = np.asarray(predictions)
    if pred.ndim != 1 or len(pred) != len(frame):
        raise PredictionLogError(
            f"one prediction per row is logged; got shape {pred.shape} for {len(frame)} rows"
        )
    if at is not None and not isinstance(at, str) and np.ndim(at) == 1:
        # One time per row: a server writes many requests at once, each at its own time.
        times = np.array([to_epoch(t) for t in at], dtype="float64")
        if len(times) != len(frame):
            raise PredictionLogError(
                f"at= gives {len(times)} times for {len(frame)} rows: one time, or one per row"
            )
    else:
        times = np.full(len(frame), to_epoch(at), dtype="float64")
    epoch = float(times.min()) if len(times) else to_epoch(None)
    kept = [c for c in frame.columns if c not in redacted and c != id_column]
    out = frame[kept].reset_index(drop=True)
    out.insert(0, ID, row_ids)
    out.insert(1, VERSION, np.full(len(out), version, dtype="int64"))
    out.insert(2, TIME, times)
    out[PREDICTION] = pred
    for column, values in (serving or {}).items():
        if column not in SERVING:
            raise PredictionLogError(f"serving columns are {list(SERVING)}, got {column!r}")
        values = np.asarray(values)
        if values.shape != (len(out),):
            raise PredictionLogError(f"{column}: one value per row, got shape {values.shape}")
        out[column] = values
    files = _files()
    if len(out):
        path = _new_path(files, name, epoch)
        files.write_table(pa.Table.from_pandas(out, preserve_index=False), path)
        _store().predictions.add_write(
            {
                "kind": "predictions",
                "model_name": name,
                "model_version": version,
                "day": _day(epoch),
                "path": path,
                "rows": len(out),
                "min_time": epoch,
                "max_time": float(times.max()),
                "columns": json.dumps(kept),
                "created_at": time.time(),
            }
        )
    apply_retention(files)
    return row_ids


def log_labels(ids: Any, labels: Any, at: Any = None, model: str | None = None) -> int:
    """Record the ground truth of logged predictions, by their ids; return the rows written.

    Labels may arrive days later; when the log is read, each prediction gets the latest label
    given for its id. ``model`` limits the labels to one model's predictions (for ids that are
    not unique across models).

    >>> import nbmlops
    >>> nbmlops.log_labels(outcomes["prediction_id"], outcomes["churned"])  # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    name = "" if model is None else model_name(model)
    id_values = np.asarray(ids)
    label_values = np.asarray(labels)
    if id_values.ndim != 1 or label_values.ndim != 1 or len(id_values) != len(label_values):
        raise PredictionLogError(
            f"give one label per id: {id_values.shape} ids, {label_values.shape} labels"
        )
    epoch = to_epoch(at)
    out = pd.DataFrame(
        {
            ID: np.array([str(v) for v in id_values], dtype=object),
            LABEL: label_values,
            LABEL_TIME: np.full(len(id_values), epoch, dtype="float64"),
        }
    )
    if not len(out):
        return 0
    files = _files()
    path = _new_path(files, f"{LABELS_DIR}/{name or '_any'}", epoch)
    files.write_table(pa.Table.from_pandas(out, preserve_index=False), path)
    _store().predictions.add_write(
        {
            "kind": "labels",
            "model_name": name,
            "model_version": None,
            "day": _day(epoch),
            "path": path,
            "rows": len(out),
            "min_time": epoch,
            "max_time": epoch,
            "columns": None,
            "created_at": time.time(),
        }
    )
    apply_retention(files)
    return len(out)


def apply_retention(files=None, now: float | None = None) -> int:
    """Delete log files older than ``log_retention_days``; return how many were removed."""
    days = get_settings().log_retention_days
    if days is None:
        return 0
    files = files or _files()
    cutoff = (time.time() if now is None else now) - days * 86400.0
    paths = _store().predictions.drop_writes_before(cutoff)
    for path in paths:
        files.remove(path)
    return len(paths)


def _store():
    return get_store(get_settings())


def _read(files, rows: list[dict]) -> pd.DataFrame | None:
    import pandas as pd
    import pyarrow.parquet as pq

    tables = []
    for row in rows:
        try:
            tables.append(pq.read_table(row["path"], filesystem=files.fs).to_pandas())
        except FileNotFoundError:
            continue  # removed by retention between listing and reading
    if not tables:
        return None
    return pd.concat(tables, ignore_index=True, sort=False)


def holdout_mask(ids: Any, fraction: float) -> Any:
    """True for the rows whose id falls in the held-out share ``fraction`` (stable per id)."""
    import numpy as np
    import pandas as pd

    if not 0 <= fraction < 1:
        raise PredictionLogError(f"holdout is a fraction in [0, 1), got {fraction!r}")
    hashed = pd.util.hash_pandas_object(pd.Series(ids, dtype=object).astype(str), index=False)
    return (hashed.to_numpy() % np.uint64(_HASH_BUCKETS)) < int(round(fraction * _HASH_BUCKETS))


def prediction_log(
    model: str,
    start: Any = None,
    end: Any = None,
    labelled: bool | None = None,
    version: int | None = None,
    split: str | None = None,
    holdout: float = 0.3,
    as_of: Any = None,
) -> pd.DataFrame:
    """The logged rows of ``model`` predicted in ``[start, end)``, with their latest label.

    Columns: ``prediction_id, model_version, predicted_at`` (UTC), the inputs, ``prediction``,
    ``label`` and ``labelled_at`` (missing until labels arrive). ``labelled=True`` keeps only
    labelled rows, ``False`` only unlabelled ones; ``version`` one model version. ``split``
    ``"train"`` or ``"holdout"`` keeps one side of a stable split by id (``holdout`` is the
    held-out share), so retraining never sees the rows champion and challenger are compared on.
    ``as_of`` ignores labels recorded after that time (what a check at that time could know).

    >>> import nbmlops
    >>> nbmlops.prediction_log("churn", start="2024-03-01", labelled=True)  # doctest: +SKIP
    """
    import pandas as pd

    from .. import _args
    from ..errors import ModelNotFound

    name = model_name(model)
    lo = None if start is None else to_epoch(start)
    hi = None if end is None else to_epoch(end)
    if not (split is None or (isinstance(split, str) and split in ("train", "holdout"))):
        raise PredictionLogError(f"split is 'train', 'holdout' or None, got {split!r}")
    if labelled is not None:
        labelled = _args.flag(labelled, "prediction_log(labelled=...)")
    if version is not None:
        version = version_number(version)
    holdout = _args.number(holdout, "prediction_log(holdout=...)")
    files = _files()
    store = _store()
    frame = _read(files, store.predictions.writes("predictions", name, lo, hi))
    unknown = frame is None and not store.models.list_versions(name)
    if unknown and not store.predictions.writes("predictions", name, None, None):
        raise ModelNotFound(
            f"no registered model named {name!r} and no predictions logged for it; "
            "list models with nbmlops.models()"
        )
    if frame is None:
        frame = pd.DataFrame(columns=[ID, VERSION, TIME, PREDICTION])
    keep = pd.Series(True, index=frame.index)
    if lo is not None:
        keep &= frame[TIME] >= lo
    if hi is not None:
        keep &= frame[TIME] < hi
    if version is not None:
        keep &= frame[VERSION] == version
    frame = frame.loc[keep].reset_index(drop=True)
    labels = _read(files, store.predictions.writes("labels", name))
    if labels is not None and as_of is not None:
        labels = labels.loc[labels[LABEL_TIME] <= to_epoch(as_of)]
    if labels is not None and len(frame) and len(labels):
        labels = labels.sort_values(LABEL_TIME, kind="stable").drop_duplicates(ID, keep="last")
        frame = frame.merge(labels, on=ID, how="left")
    else:
        frame[LABEL] = pd.Series([None] * len(frame), dtype=object)
        frame[LABEL_TIME] = pd.Series([float("nan")] * len(frame), dtype="float64")
    if labelled is not None:
        frame = frame.loc[frame[LABEL].notna() == bool(labelled)]
    if split is not None:
        mask = holdout_mask(frame[ID].to_numpy(), holdout)
        frame = frame.loc[mask if split == "holdout" else ~mask]
    frame = frame.reset_index(drop=True)
    for column in (TIME, LABEL_TIME):
        frame[column] = pd.to_datetime(frame[column].astype("float64"), unit="s", utc=True)
    return frame


def inputs_of(frame: pd.DataFrame) -> list[str]:
    """The input columns of a frame read from the log."""
    return [c for c in frame.columns if c not in RESERVED]
