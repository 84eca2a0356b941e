"""Latency as a gate: ``latency.p50_ms`` and ``latency.p99_ms`` of a version, measured on its
reference rows, so ``promote(..., gates=["latency.p99_ms < 50"])`` refuses a model that is too
slow before it serves anyone (and ``latency.p99_ms <= champion.latency.p99_ms * 1.2`` one that
is slower than the version it replaces).

Each measurement times what a server does per request: the signature check and ``predict``,
one row at a time over up to ``rows`` reference rows (``p50_ms``, ``p99_ms``), then ``batch``
rows at a time (``batch_p50_ms``, ``batch_p99_ms``), after one warm-up call. Wall-clock time on
this machine: compare versions measured on the same machine.
"""

from __future__ import annotations

import time

from .. import _args
from ..errors import InvalidModel

KEYS = ("p50_ms", "p99_ms", "batch_p50_ms", "batch_p99_ms")


def measure(
    name: str, version: int, rows: int = 200, batch: int = 100, repeats: int = 20
) -> dict[str, float]:
    """Latency of version ``version`` of ``name`` on its reference rows, in milliseconds:
    ``{"p50_ms", "p99_ms", "batch_p50_ms", "batch_p99_ms", "batch"}`` (public as
    :func:`nbmlops.measure_latency`)."""
    import numpy as np

    from ..predictions.reference import load_reference
    from . import persistence
    from ._context import current_store
    from .record import VersionRecord

    rows = _args.integer(rows, "measure_latency(rows=...)", low=1)
    batch = _args.integer(batch, "measure_latency(batch=...)", low=1)
    repeats = _args.integer(repeats, "measure_latency(repeats=...)", low=1)
    mv = VersionRecord(current_store(), name, version)
    row = mv._row()
    reference = load_reference(mv.name, mv.version)
    if reference is None or not len(reference):
        raise InvalidModel(
            f"{mv.uri} has no reference rows to measure its latency on: register it with "
            "reference=X_train (or nbmlops.set_reference(uri, X_train))"
        )
    data = current_store().artifacts.get_bytes(row["digest"], f"{mv.uri} ({row['flavor']})")
    model = persistence.deserialize(row["flavor"], data, mv.uri, False)
    signature = mv.signature
    single = reference.head(rows)
    one_row = [single.iloc[[i]] for i in range(len(single))]
    many = reference.sample(batch, replace=len(reference) < batch, random_state=0)

    def timed(frame) -> float:
        started = time.perf_counter()
        model.predict(signature.check(frame, mv.uri))
        return (time.perf_counter() - started) * 1000

    timed(one_row[0])  # warm-up: lazy initialisation is not latency
    singles = np.array([timed(frame) for frame in one_row])
    batches = np.array([timed(many) for _ in range(repeats)])
    return {
        "p50_ms": float(np.quantile(singles, 0.5)),
        "p99_ms": float(np.quantile(singles, 0.99)),
        "batch_p50_ms": float(np.quantile(batches, 0.5)),
        "batch_p99_ms": float(np.quantile(batches, 0.99)),
        "batch": batch,
    }
