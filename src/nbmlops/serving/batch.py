"""Batch scoring of Parquet data, streaming: ``nbmlops score models:/churn@production
in.parquet -o out.parquet`` (any fsspec URL for both; the input may be a file, a folder of
Parquet files or a glob).

The input is read row group by row group (never the whole file): consecutive row groups are
read together up to ``batch_rows`` rows, a larger row group in slices of ``batch_rows``. Each
batch is checked against the signature, predicted, written to the output as one row group and,
with ``log=True``, appended to the prediction log like a server's requests. Memory stays bounded
by a few batches whatever the input's size. (pyarrow's ``ParquetFile.iter_batches`` over a
whole file keeps memory it has read, about 30 MB per 100,000-row batch of 30 float columns
until the file is closed, which is what made 1M rows cost 966 MiB; it is only used inside one
row group here.)

``engine="dask"`` (or a ``scheduler``) spreads the batches over a Dask cluster chosen as the
pipeline executor chooses it (a ``distributed.Client``, a scheduler address, or the session's
client, else a local cluster): each task scores a run of row groups on a worker, which loads the
model once, logs its predictions to the same store and writes its own part of the output; the
parts are then copied in input order into the output file, one row group at a time.

The output is written to ``OUT.partial`` and moved into place at the end, so a failure leaves
no half-written result.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..data._base import row_group_runs
from ..errors import ServingError

DEFAULT_BATCH_ROWS = 100_000
ENGINES = ("local", "dask")
# Settings a Dask worker must share with the caller to load the model and log like it.
_SHARED_SETTINGS = ("store_url", "artifacts", "prediction_log", "log_redact", "log_retention_days")
_worker_models: dict[tuple, Any] = {}


def score_file(
    model: str,
    source: str,
    output: str,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    log: bool = True,
    ids: str | None = None,
    trusted: bool | list[str] = False,
    progress: bool = True,
    engine: str | None = None,
    scheduler: Any = None,
) -> dict[str, Any]:
    """Score every row of the Parquet data ``source`` (a file, folder or glob) with ``model``
    (``"churn"``, ``"models:/churn@production"``) into the Parquet file ``output`` (the input
    columns plus ``prediction``, and ``prediction_id`` when logged); return ``{"rows",
    "seconds", "version", "output", "engine"}``.

    ``ids`` names an input column used as prediction ids (to join late labels); otherwise
    logged rows get random ids, written to the output. ``engine="dask"`` (the default when a
    ``scheduler`` is given: a ``distributed.Client`` or an address) scores on a Dask cluster,
    as the pipeline executor runs notebooks; the output must then be a location the workers
    can write (a shared disk or object store).

    >>> import nbmlops
    >>> nbmlops.score_file("churn", "s3://bucket/today.parquet", "s3://bucket/scored.parquet")  # doctest: +SKIP
    """
    import fsspec

    from .. import _args
    from ..registry.versions import resolve

    batch_rows = _args.integer(batch_rows, "score_file(batch_rows=...)", low=1)
    if engine is None:
        engine = "dask" if scheduler is not None else "local"
    if engine not in ENGINES:
        raise ServingError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if engine == "local" and scheduler is not None:
        raise ServingError("a scheduler is only used with engine='dask'")
    mv = resolve(model)
    started = time.perf_counter()
    in_fs, files = _input_files(source)
    out_fs, out_path = fsspec.core.url_to_fs(output)
    partial = out_path + ".partial"
    try:
        if engine == "local":
            rows = _score_here(
                mv, trusted, in_fs, files, out_fs, partial, batch_rows, log, ids, progress
            )
        else:
            rows = _score_on_dask(
                mv,
                trusted,
                in_fs,
                files,
                out_fs,
                partial,
                batch_rows,
                log,
                ids,
                progress,
                scheduler,
            )
        out_fs.mv(partial, out_path)
    except BaseException:
        if out_fs.exists(partial):
            out_fs.rm(partial, recursive=True)
        raise
    return {
        "rows": rows,
        "seconds": time.perf_counter() - started,
        "version": mv.version,
        "output": output,
        "engine": engine,
    }


# -- reading: row groups, never the whole file ---------------------------------------------------


def _input_files(source: str) -> tuple[Any, list[str]]:
    """The filesystem and the Parquet files of ``source`` (a file, a folder or a glob)."""
    import fsspec

    in_fs, in_path = fsspec.core.url_to_fs(source)
    if in_fs.isdir(in_path):
        files = sorted(p for p in in_fs.find(in_path) if p.endswith((".parquet", ".pq")))
    elif any(ch in in_path for ch in "*?["):
        files = sorted(in_fs.glob(in_path))
    else:
        files = [in_path] if in_fs.exists(in_path) else []
    if not files:
        raise ServingError(
            f"no input file at {source!r}: give a Parquet file, a folder of them or a glob"
        )
    return in_fs, files


def _batches(parquet, unit: list[int], batch_rows: int):
    """The unit's rows as pyarrow tables of at most ``batch_rows`` rows."""
    if len(unit) == 1 and parquet.metadata.row_group(unit[0]).num_rows > batch_rows:
        yield from parquet.iter_batches(batch_size=batch_rows, row_groups=unit)
    else:
        yield parquet.read_row_groups(unit)


# -- scoring one batch (here or on a worker) -----------------------------------------------------


def _score_batch(table, loaded, mv, log: bool, ids: str | None):
    """The scored batch as a pyarrow table: input columns, ``prediction_id`` when logged with
    random ids, ``prediction``."""
    import numpy as np
    import pyarrow as pa

    from ..predictions.log import ID, PREDICTION, log_predictions

    frame = table.to_pandas()
    checked = mv.signature.check(
        frame[[c for c in frame.columns if c != ids]] if ids else frame, mv.uri
    )
    predictions = np.asarray(loaded.predict(checked))
    out = frame
    if log:
        row_ids = log_predictions(mv.name, mv.version, frame, predictions, ids=ids)
        if ids is None:
            out = out.assign(**{ID: row_ids})
    out = out.assign(**{PREDICTION: predictions})
    return pa.Table.from_pandas(out, preserve_index=False)


def _empty_schema(in_fs, files: list[str]):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..predictions.log import PREDICTION

    with in_fs.open(files[0], "rb") as handle:
        return pq.ParquetFile(handle).schema_arrow.append(pa.field(PREDICTION, pa.float64()))


def _score_here(mv, trusted, in_fs, files, out_fs, partial, batch_rows, log, ids, progress) -> int:
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    loaded = mv._model_for(trusted)
    rows = 0
    writer = None
    bar = tqdm(total=None, unit="rows", disable=not progress, desc=f"scoring {mv.uri}")
    try:
        with out_fs.open(partial, "wb") as sink:
            for path in files:
                with in_fs.open(path, "rb") as handle:
                    parquet = pq.ParquetFile(handle)
                    bar.total = (bar.total or 0) + parquet.metadata.num_rows
                    for unit in row_group_runs(parquet.metadata, batch_rows):
                        for batch in _batches(parquet, unit, batch_rows):
                            table = _score_batch(batch, loaded, mv, log, ids)
                            if writer is None:
                                writer = pq.ParquetWriter(sink, table.schema)
                            writer.write_table(_conform(table, writer.schema))
                            rows += table.num_rows
                            bar.update(table.num_rows)
            if writer is None:  # an empty input still gives a valid (empty) output
                writer = pq.ParquetWriter(sink, _empty_schema(in_fs, files))
            writer.close()
            writer = None
    finally:
        if writer is not None:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - the partial file is removed anyway
                pass
        bar.close()
    return rows


def _conform(table, schema):
    """``table`` with ``schema``'s types (a batch whose column is all null reads as null)."""
    return table if table.schema == schema else table.cast(schema)


# -- on a Dask cluster ------------------------------------------------------------------------------


def _score_on_dask(
    mv, trusted, in_fs, files, out_fs, partial, batch_rows, log, ids, progress, scheduler
) -> int:
    import distributed
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    from ..config import get_settings
    from ..data._dask import client_for

    # the model is loaded on the workers only: here it would cost its memory for nothing
    client = client_for(scheduler)
    owned = client if isinstance(scheduler, (str, os.PathLike)) else None
    settings = get_settings()
    shared = {name: getattr(settings, name) for name in _SHARED_SETTINGS}
    shared["log_redact"] = list(shared["log_redact"])
    tasks: list[tuple[str, list[int], int]] = []
    for path in files:
        with in_fs.open(path, "rb") as handle:
            metadata = pq.ParquetFile(handle).metadata
        for unit in row_group_runs(metadata, batch_rows):
            n = sum(metadata.row_group(i).num_rows for i in unit)
            tasks.append((in_fs.unstrip_protocol(path), unit, n))
    parts = partial.removesuffix(".partial") + ".parts"
    parts_url = out_fs.unstrip_protocol(parts)
    out_fs.makedirs(parts, exist_ok=True)
    job = (mv.name, mv.version, trusted, shared, batch_rows, log, ids)
    futures = [
        client.submit(
            _score_part,
            job,
            url,
            unit,
            f"{parts_url}/part-{i:06d}.parquet",
            pure=False,
            key=f"nbmlops-score-{os.urandom(6).hex()}-{i}",
        )
        for i, (url, unit, _n) in enumerate(tasks)
    ]
    bar = tqdm(
        total=sum(n for _u, _g, n in tasks),
        unit="rows",
        disable=not progress,
        desc=f"scoring {mv.uri} on Dask",
    )
    rows = 0
    try:
        for _future, done in distributed.as_completed(futures, with_results=True):
            rows += done
            bar.update(done)
        _merge_parts(out_fs, parts, len(tasks), partial, lambda: _empty_schema(in_fs, files))
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        bar.close()
        if owned is not None:  # a client this call connected to an address
            owned.close()
        _remove_parts(out_fs, parts)
    return rows


def _remove_parts(out_fs, parts: str, attempts: int = 100) -> None:
    """Remove the parts folder. After a failure, tasks already running on other workers are
    not stopped by the cancel and may still create their part file while the folder is being
    removed ("Directory not empty"): retry until it is gone. Once it is gone they cannot
    create it again (they open their file without making folders) and fail unseen."""
    for attempt in range(attempts):
        try:
            if out_fs.exists(parts):
                out_fs.rm(parts, recursive=True)
            return
        except FileNotFoundError:  # a file went away while the folder was listed
            continue
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05)


def _score_part(job: tuple, url: str, unit: list[int], part_url: str) -> int:
    """On a worker: score row groups ``unit`` of ``url`` into the Parquet file ``part_url``."""
    import fsspec
    import pyarrow.parquet as pq

    from ..config import configure, get_settings

    name, version, trusted, shared, batch_rows, log, ids = job
    settings = get_settings()
    if any(
        getattr(settings, k) != (tuple(v) if k == "log_redact" else v) for k, v in shared.items()
    ):
        configure(**shared)
    mv, loaded = _model_on_worker(name, version, trusted, shared["store_url"])
    rows, writer = 0, None
    # no folder made: a part written after a failed job removed its folder must fail
    with fsspec.open(url, "rb") as handle, fsspec.open(part_url, "wb", auto_mkdir=False) as sink:
        parquet = pq.ParquetFile(handle)
        for batch in _batches(parquet, unit, batch_rows):
            table = _score_batch(batch, loaded, mv, log, ids)
            if writer is None:
                writer = pq.ParquetWriter(sink, table.schema)
            writer.write_table(_conform(table, writer.schema))
            rows += table.num_rows
        if writer is not None:
            writer.close()
    return rows


def _model_on_worker(name: str, version: int, trusted, store_url: str):
    """The model version and its loaded model, loaded once per worker process."""
    from ..registry.versions import resolve

    key = (store_url, name, version, repr(trusted))
    if key not in _worker_models:
        if len(_worker_models) >= 4:  # a worker serves few models at a time
            _worker_models.pop(next(iter(_worker_models)))
        mv = resolve(f"models:/{name}/{version}")
        _worker_models[key] = (mv, mv._model_for(trusted))
    return _worker_models[key]


def _merge_parts(out_fs, parts_path: str, count: int, partial: str, empty_schema) -> None:
    """Copy the parts, in input order, into ``partial``: one row group in memory at a time."""
    import pyarrow.parquet as pq

    writer = None
    with out_fs.open(partial, "wb") as sink:
        try:
            for i in range(count):
                path = f"{parts_path}/part-{i:06d}.parquet"
                if not out_fs.exists(path):  # a unit of no rows writes no part
                    continue
                with out_fs.open(path, "rb") as handle:
                    part = pq.ParquetFile(handle)
                    for group in range(part.metadata.num_row_groups):
                        table = part.read_row_group(group)
                        if writer is None:
                            writer = pq.ParquetWriter(sink, table.schema)
                        writer.write_table(_conform(table, writer.schema))
            if writer is None:
                writer = pq.ParquetWriter(sink, empty_schema())
        finally:
            if writer is not None:
                writer.close()
