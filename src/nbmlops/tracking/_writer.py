"""The background writer: buffered metrics and heartbeats of the runs open in this process.

``log_metric`` only appends to a list; one daemon thread writes the list in a single
transaction every ``flush_s`` (0.5 s by default) and refreshes heartbeats every
``heartbeat_s``. Ending a run writes its remaining metrics in the same transaction as its
final status, so a finished run never misses a metric and a killed process loses at most the
last ``flush_s`` of them. The same pass syncs the artifact blobs runs wrote without an fsync
(``ArtifactStore.sync``), so an OS crash loses at most the last ``flush_s`` of a running
run's artifacts. Rows stay buffered until the transaction writing them commits: a
failed write (disk full, database down) keeps them, in order, for the next attempt.

The writer holds a store only while it has open runs or rows to write, so a store replaced
by ``nbmlops.configure`` is released (and its connections closed) once its runs end.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import warnings

from ..config import on_configure
from ..store import Store

Row = tuple[str, str, float, int, float]  # run_id, key, value, step, timestamp


class BackgroundWriter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Held while rows are being written, so ending a run waits for an in-flight flush.
        self._flush_lock = threading.Lock()
        self._pending: dict[Store, list[Row]] = {}
        self._open: dict[str, Store] = {}
        self._last_beat: dict[Store, float] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # Set when the wait should be recomputed now: a store appeared, settings changed.
        self._wake = threading.Event()
        self._warned = False

    # -- called by runs ------------------------------------------------------------------------

    def add(self, store: Store, rows: list[Row]) -> None:
        with self._lock:
            new = self._is_new(store)
            self._pending.setdefault(store, []).extend(rows)
        self._ensure_thread(wake=new)

    def open_run(self, store: Store, run_id: str) -> None:
        with self._lock:
            new = self._is_new(store)
            self._open[run_id] = store
            self._last_beat.setdefault(store, time.time())
        self._ensure_thread(wake=new)

    def _is_new(self, store: Store) -> bool:
        return store not in self._pending and store not in self._open.values()

    def wake(self) -> None:
        """Recompute the wait now (``configure`` changed ``flush_s`` or ``heartbeat_s``)."""
        self._wake.set()

    def close_run(self, run_id: str) -> None:
        with self._lock:
            store = self._open.pop(run_id, None)
            if store is not None and store not in self._open.values():
                self._last_beat.pop(store, None)

    def take(self, store: Store, run_id: str) -> list[Row]:
        """Remove and return the pending rows of ``run_id`` (call with :meth:`flushing`, and
        hand them back with :meth:`put_back` if writing them fails)."""
        with self._lock:
            rows = self._pending.get(store, [])
            mine = [r for r in rows if r[0] == run_id]
            if mine:
                rest = [r for r in rows if r[0] != run_id]
                if rest:
                    self._pending[store] = rest
                else:
                    del self._pending[store]
        return mine

    def put_back(self, store: Store, rows: list[Row]) -> None:
        """Return rows that could not be written, ahead of any logged since."""
        if rows:
            with self._lock:
                self._pending.setdefault(store, [])[:0] = rows

    def pending(self, run_id: str) -> int:
        """How many values of ``run_id`` wait to be written."""
        with self._lock:
            return sum(1 for rows in self._pending.values() for r in rows if r[0] == run_id)

    def flushing(self) -> threading.Lock:
        return self._flush_lock

    def flush(self) -> None:
        """Write every pending row now; rows of a store whose write fails stay pending and
        the first failure is raised after every store was tried."""
        failure: BaseException | None = None
        with self._flush_lock:
            with self._lock:
                batches, self._pending = self._pending, {}
            for store, rows in batches.items():
                if not rows:
                    continue
                try:
                    store.meta.log_metrics(rows)
                except BaseException as exc:  # never lose rows to a transient error
                    self.put_back(store, rows)
                    if failure is None:
                        failure = exc
                        self._warn(
                            f"nbmlops: could not write {len(rows)} metric values yet ({exc}); "
                            "they stay buffered and are written on the next try"
                        )
        if failure is not None:
            raise failure

    # -- the thread ----------------------------------------------------------------------------

    def _ensure_thread(self, wake: bool = False) -> None:
        if wake:
            self._wake.set()
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="nbmlops-writer", daemon=True)
            self._thread.start()

    def _interval(self) -> float | None:
        """Seconds until the next pass; None (wait until woken) with nothing to do."""
        with self._lock:
            stores = set(self._pending) | set(self._open.values())
        if not stores:
            return None
        return min(min(s.settings.flush_s, s.settings.heartbeat_s) for s in stores)

    def _loop(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            interval = self._interval()
            if interval is None:  # nothing to do: sleep until a store appears
                self._wake.wait()
                self._wake.clear()
                last = time.monotonic()  # the clock starts when there is something to write
                continue
            woken = self._wake.wait(max(0.0, last + interval - time.monotonic()))
            self._wake.clear()
            if woken or self._stop.is_set():
                continue  # a new store or new settings: wait out the new interval
            last = time.monotonic()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - already warned; rows kept for the next pass
                pass
            self.sync_artifacts()
            self._beat()

    def sync_artifacts(self) -> None:
        """Sync the artifact blobs the open runs' stores hold unsynced (one batch each)."""
        with self._lock:
            stores = set(self._open.values())
        for store in stores:
            try:
                store.artifacts.sync()
            except Exception as exc:  # noqa: BLE001 - kept pending; Run.end raises it
                self._warn(f"nbmlops: could not sync artifacts yet ({exc}); will retry")

    def _beat(self) -> None:
        now = time.time()
        with self._lock:
            by_store: dict[Store, list[str]] = {}
            for run_id, store in self._open.items():
                by_store.setdefault(store, []).append(run_id)
        for store, run_ids in by_store.items():
            if now - self._last_beat.get(store, 0.0) < store.settings.heartbeat_s:
                continue
            try:
                store.meta.heartbeat(run_ids, now)
                with self._lock:
                    if store in self._open.values():  # not if its runs ended meanwhile
                        self._last_beat[store] = now
            except Exception as exc:  # noqa: BLE001
                self._warn(f"nbmlops: heartbeat failed ({exc}); will retry")

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(message, RuntimeWarning, stacklevel=2)

    def _reset_in_child(self) -> None:
        # The parent's rows and open runs are the parent's to write; the thread did not fork.
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending = {}
        self._open = {}
        self._last_beat = {}
        self._thread = None
        self._stop = threading.Event()
        self._wake = threading.Event()


writer = BackgroundWriter()
on_configure(writer.wake)


def _flush_at_exit() -> None:
    try:
        writer.flush()
    except Exception:  # noqa: BLE001 - nothing more can be done at exit
        pass
    writer.sync_artifacts()


atexit.register(_flush_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=writer._reset_in_child)
