"""Served predictions go to the prediction log in batches, off the request path.

A request appends one :class:`Entry` per arm it used (a list append under a lock); a
background thread writes them every ``interval`` seconds, one prediction-log write per model
version, with the server's columns (request id, rollout arm, latency). A batch that cannot be
written as one (the store is briefly unavailable) stays queued and is retried; rows that can
never be written (values Parquet cannot hold together) are retried one request at a time so the
rest still land. ``close()`` writes everything left: the server calls it after draining.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import NbmlopsError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("nbmlops.serving")


@dataclass
class Entry:
    """The rows one request sent to one model version (or a batch of requests: then
    ``request_id`` lists each row's request)."""

    name: str
    version: int
    frame: pd.DataFrame
    predictions: Any
    ids: list[str]
    request_id: str | list[str]
    arm: str
    latency_ms: float
    at: float


class LogBuffer:
    """Collects :class:`Entry` objects and writes them in the background."""

    def __init__(
        self, interval: float = 0.5, on_flush: Callable[[list[Entry]], None] | None = None
    ):
        self.interval = interval
        self.on_flush = on_flush
        self._entries: list[Entry] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = 0  # rows written so far
        self.dropped = 0  # rows that could not be written at all

    def add(self, entry: Entry) -> None:
        with self._lock:
            self._entries.append(entry)

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(len(e.ids) for e in self._entries)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="nbmlops-serving-log", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the writer must outlive any one failure
                log.exception("writing served predictions failed; retrying")

    def close(self, timeout: float = 60.0) -> None:
        """Stop the thread and write everything still queued (retrying up to ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.flush()
            except Exception:  # noqa: BLE001
                log.exception("writing served predictions failed")
            if not self.pending or time.monotonic() > deadline:
                break
            time.sleep(0.2)

    def flush(self) -> int:
        """Write what is queued now; return the rows written."""
        with self._flush_lock:
            with self._lock:
                entries, self._entries = self._entries, []
            if not entries:
                return 0
            groups: dict[tuple[str, int], list[Entry]] = {}
            for entry in entries:
                groups.setdefault((entry.name, entry.version), []).append(entry)
            done = 0
            failed: list[Entry] = []
            for group in groups.values():
                try:
                    done += _write(group)
                except NbmlopsError as exc:
                    # One request's rows may not mix with the others (types, ids): alone they may.
                    log.warning(
                        "a batch of served predictions was refused (%s); writing "
                        "request by request",
                        exc,
                    )
                    for entry in group:
                        try:
                            done += _write([entry])
                        except NbmlopsError as single:
                            log.error(
                                "served predictions of request %s not logged: %s",
                                entry.request_id,
                                single,
                            )
                            self.dropped += len(entry.ids)
                except Exception:  # noqa: BLE001 - store unavailable: keep them for later
                    failed.extend(group)
            if failed:
                with self._lock:
                    self._entries[:0] = failed
            self.written += done
            if self.on_flush is not None:
                self.on_flush([e for e in entries if e not in failed])
            if failed:
                raise RuntimeError(f"{len(failed)} requests' predictions wait to be logged")
            return done


def _write(group: list[Entry]) -> int:
    import numpy as np
    import pandas as pd

    from ..predictions.log import ARM, LATENCY_MS, REQUEST_ID, log_predictions

    frame = (
        group[0].frame
        if len(group) == 1
        else pd.concat([e.frame for e in group], ignore_index=True, sort=False)
    )
    predictions = np.concatenate([np.asarray(e.predictions).reshape(-1) for e in group])
    ids = [i for e in group for i in e.ids]
    serving = {
        REQUEST_ID: np.array([r for e in group for r in _request_ids(e)], dtype=object),
        ARM: np.array([e.arm for e in group for _ in e.ids], dtype=object),
        LATENCY_MS: np.array([e.latency_ms for e in group for _ in e.ids], dtype="float64"),
    }
    log_predictions(
        group[0].name,
        group[0].version,
        frame.reset_index(drop=True),
        predictions,
        ids=ids,
        # Each row keeps its request's time: a batch stamped with its newest request would move
        # older requests past a rollout's start into the rollout's window.
        at=np.array([e.at for e in group for _ in e.ids], dtype="float64"),
        serving=serving,
    )
    return len(ids)


def _request_ids(entry: Entry) -> list[str]:
    if isinstance(entry.request_id, list):
        return entry.request_id
    return [entry.request_id] * len(entry.ids)
