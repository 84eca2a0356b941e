"""Batch scoring of a Parquet file, streaming: ``nbmlops score models:/churn@production
in.parquet -o out.parquet`` (any fsspec URL for both).

The input is read ``batch_rows`` rows at a time (never the whole file), each batch is checked
against the signature, predicted, written to the output as one row group and, with
``log=True``, appended to the prediction log like a server's requests. Memory stays bounded by
a few batches whatever the file's size. The output is written to ``OUT.partial`` and moved into
place at the end, so a failure leaves no half-written result.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import ServingError

DEFAULT_BATCH_ROWS = 100_000


def score_file(
    model: str,
    source: str,
    output: str,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    log: bool = True,
    ids: str | None = None,
    trusted: bool | list[str] = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every row of the Parquet file ``source`` with ``model`` (``"churn"``,
    ``"models:/churn@production"``) into ``output`` (the input columns plus ``prediction``,
    and ``prediction_id`` when logged); return ``{"rows", "seconds", "version", "output"}``.

    ``ids`` names an input column used as prediction ids (to join late labels); otherwise
    logged rows get random ids, written to the output.

    >>> import nbmlops
    >>> nbmlops.score_file("churn", "s3://bucket/today.parquet", "s3://bucket/scored.parquet")  # doctest: +SKIP
    """
    import fsspec
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    from .. import _args
    from ..predictions.log import ID, PREDICTION, log_predictions
    from ..registry.versions import resolve

    batch_rows = _args.integer(batch_rows, "score_file(batch_rows=...)", low=1)
    mv = resolve(model)
    loaded = mv._model_for(trusted)
    signature = mv.signature
    started = time.perf_counter()
    in_fs, in_path = fsspec.core.url_to_fs(source)
    out_fs, out_path = fsspec.core.url_to_fs(output)
    partial = out_path + ".partial"
    if not in_fs.exists(in_path):
        raise ServingError(f"no input file at {source!r}")
    rows = 0
    writer = None
    try:
        with in_fs.open(in_path, "rb") as handle, out_fs.open(partial, "wb") as sink:
            parquet = pq.ParquetFile(handle)
            bar = tqdm(
                total=parquet.metadata.num_rows,
                unit="rows",
                disable=not progress,
                desc=f"scoring {mv.uri}",
            )
            for batch in parquet.iter_batches(batch_size=batch_rows):
                frame = batch.to_pandas()
                checked = signature.check(
                    frame[[c for c in frame.columns if c != ids]] if ids else frame, mv.uri
                )
                predictions = np.asarray(loaded.predict(checked))
                out = frame
                if log:
                    row_ids = log_predictions(mv.name, mv.version, frame, predictions, ids=ids)
                    if ids is None:
                        out = out.assign(**{ID: row_ids})
                out = out.assign(**{PREDICTION: predictions})
                table = pa.Table.from_pandas(out, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(sink, table.schema)
                writer.write_table(table)
                rows += len(frame)
                bar.update(len(frame))
            if writer is None:  # an empty input still gives a valid (empty) output
                schema = parquet.schema_arrow.append(pa.field(PREDICTION, pa.float64()))
                writer = pq.ParquetWriter(sink, schema)
            writer.close()
            bar.close()
        out_fs.mv(partial, out_path)
    except BaseException:
        if writer is not None:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - the partial file is removed anyway
                pass
        if out_fs.exists(partial):
            out_fs.rm(partial)
        raise
    return {
        "rows": rows,
        "seconds": time.perf_counter() - started,
        "version": mv.version,
        "output": output,
    }
