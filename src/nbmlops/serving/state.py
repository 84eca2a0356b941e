"""Everything one server holds: the served models, how a request is routed between a rollout's
arms, the prediction-log buffer, the metrics, and the thread that follows the registry.

The follower thread resolves every served reference and reads the rollouts of their names
every ``poll`` seconds (default 1 s, so a promotion, rollback or rollout step reaches every
server within 2 s); a new version is loaded and warmed before it serves. Every
``evaluate_every`` seconds it also evaluates the guards of the running rollouts it serves, so a
failing guard aborts the rollout even when nobody runs ``nbmlops rollout advance``.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequest, ServingError
from ._plan import CANDIDATE, CHAMPION, SHADOW
from .logbuffer import Entry, LogBuffer
from .metrics import ServingMetrics
from .models import Loaded, ServedModel
from .presence import Presence
from .shadow import ShadowJob, ShadowScorer

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("nbmlops.serving")

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServeOptions:
    """How a server behaves (see :func:`nbmlops.serve`)."""

    models: list[str]
    host: str = "127.0.0.1"
    port: int = 5000
    token: str | None = None
    poll: float = 1.0
    max_body_bytes: int = 10 * 1024 * 1024
    log_predictions: bool = True
    log_interval: float = 0.5
    evaluate_every: float = 10.0
    trusted: bool | list[str] = False
    id_columns: list[str] = field(default_factory=list)
    workers: int = 1
    server_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def check(self) -> ServeOptions:
        if not self.models or not all(isinstance(m, str) and m for m in self.models):
            raise ServingError(
                "serve at least one model: a registry name ('churn'), 'churn@staging' or "
                "'models:/churn/3'"
            )
        if self.host not in LOOPBACK and not self.token:
            raise ServingError(
                f"binding {self.host} exposes the models beyond this machine: give a token "
                "(token=... or NBMLOPS_SERVE_TOKEN) that clients send as "
                "'Authorization: Bearer TOKEN', or bind 127.0.0.1"
            )
        for label, value in (("poll", self.poll), ("evaluate_every", self.evaluate_every)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ServingError(f"{label} is a positive number of seconds, got {value!r}")
        if (
            isinstance(self.max_body_bytes, bool)
            or not isinstance(self.max_body_bytes, int)
            or (self.max_body_bytes <= 0)
        ):
            raise ServingError(f"max_body_bytes is a positive integer, got {self.max_body_bytes!r}")
        return self


class ServingState:
    """The served models of one server process and what they share."""

    def __init__(self, options: ServeOptions):
        self.options = options.check()
        self.served: dict[str, ServedModel] = {}
        for ref in options.models:
            served = ServedModel(ref, options.trusted)
            served.extra_columns = tuple(options.id_columns)
            if served.name in self.served:
                raise ServingError(f"{served.name!r} is served twice; serve each name once")
            self.served[served.name] = served
        self.default = next(iter(self.served))
        self.metrics = ServingMetrics()
        self.buffer = LogBuffer(options.log_interval, on_flush=self._after_flush)
        self.errors: dict[tuple[int, str], int] = {}  # (rollout id, arm) -> failed requests
        self._errors_lock = threading.Lock()
        self._shadow = ShadowScorer(self._shadow_scored, self._shadow_failed)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at = time.time()
        # The store record that shows this server in nbmlops.servers(), the panel and sidebar.
        self.presence = Presence(options.server_id, options.poll, self.started_at)
        if options.port:
            shown = f"[{options.host}]" if ":" in options.host else options.host
            self.presence.url = f"http://{shown}:{options.port}"
        self.last_refresh: float | None = None
        self.problems: dict[str, str] = {}
        self._last_evaluation = 0.0
        # True when the server owns its process (``nbmlops serve``): see refresh().
        self.owns_process = False

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self.options.log_predictions:
            self.buffer.start()
        self._shadow.start()
        self._thread = threading.Thread(target=self._follow, name="nbmlops-follow", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop following, finish shadow work, write every queued prediction."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self.presence.leave()
        self._shadow.close()
        if self.options.log_predictions:
            self.buffer.close()
        self._report_errors()

    @property
    def ready(self) -> bool:
        return all(s.snapshot is not None for s in self.served.values())

    def _follow(self) -> None:
        while True:
            self.refresh()
            if self._stop.wait(self.options.poll):
                return

    def refresh(self) -> None:
        """Resolve every served reference and rollout now."""
        plans = self._plans()
        loaded = False
        for name, served in self.served.items():
            try:
                if served.refresh(plans.get(name)):
                    loaded = True
                    snap = served.snapshot
                    log.info(
                        "serving %s v%d%s",
                        name,
                        snap.champion.version,
                        f" ({snap.plan.mode} v{snap.candidate.version} at {snap.plan.share:g}%)"
                        if snap.plan
                        else "",
                    )
                    if snap.plan is not None:
                        self.metrics.share.labels(
                            name, str(snap.plan.candidate), snap.plan.mode
                        ).set(snap.plan.share)
                self.problems.pop(name, None)
            except Exception as exc:  # noqa: BLE001 - keep serving what is loaded; report it
                self.problems[name] = f"{type(exc).__name__}: {exc}"
                log.warning("cannot refresh %s: %s", name, exc)
        if loaded and self.owns_process:
            # Libraries and models are loaded for good: keep the collector from walking them.
            # A full collection over them takes ~40-90 ms and, triggered by the objects each
            # request leaves in the log queue, stalls every request in flight (the p99). Only
            # in a process of its own: a kernel's objects are the user's, not ours to freeze.
            gc.freeze()
        self.last_refresh = time.time()
        self.presence.beat(self.status(), self.last_refresh)
        self.metrics.logged.set(self.buffer.pending)
        if time.monotonic() - self._last_evaluation >= self.options.evaluate_every:
            self._last_evaluation = time.monotonic()
            self._evaluate(plans)

    def _plans(self) -> dict:
        try:
            from .rollouts import plans_for
        except ImportError:  # pragma: no cover - rollouts are part of the package
            return {}
        try:
            return plans_for(list(self.served))
        except Exception as exc:  # noqa: BLE001 - keep the last plans when the store hiccups
            log.warning("cannot read rollouts: %s", exc)
            return {n: s.snapshot.plan for n, s in self.served.items() if s.snapshot}

    def _evaluate(self, plans: dict) -> None:
        self._report_errors()
        running = [p for p in plans.values() if p is not None and p.active]
        if not running:
            return
        from .rollouts import tick

        if self.options.log_predictions:
            # The guards read the prediction log: write what this server answered so far, so
            # a window that just filled is judged now, not one log interval later.
            try:
                self.buffer.flush()
            except Exception as exc:  # noqa: BLE001 - the log thread retries; judge what landed
                log.warning("writing served predictions before evaluating failed: %s", exc)
        for plan in running:
            try:
                tick(plan.rollout_id, lazy=True)
            except Exception as exc:  # noqa: BLE001 - the next evaluation tries again
                log.warning("evaluating rollout %d failed: %s", plan.rollout_id, exc)

    # -- errors per rollout arm (the error_rate guard) -----------------------------------------

    def record_error(self, name: str, status: int) -> None:
        self.metrics.errors.labels(name, str(status)).inc()

    def _count_error(self, plan, arm: str) -> None:
        if plan is not None:
            with self._errors_lock:
                key = (plan.rollout_id, arm)
                self.errors[key] = self.errors.get(key, 0) + 1

    def _predict(self, loaded: Loaded, checked, plan, arm: str):
        """``loaded.predict``; a model failing on valid input counts against its arm."""
        try:
            return loaded.predict(checked)
        except InvalidRequest:
            raise
        except Exception:
            self._count_error(plan, arm)
            raise

    def _after_flush(self, entries: list[Entry]) -> None:
        pass

    def _report_errors(self) -> None:
        with self._errors_lock:
            errors, self.errors = self.errors, {}
        if not errors:
            return
        from .rollouts import record_errors

        try:
            record_errors(errors, self.options.server_id)
        except Exception as exc:  # noqa: BLE001 - count them again next time
            log.warning("cannot record rollout errors: %s", exc)
            with self._errors_lock:
                for key, n in errors.items():
                    self.errors[key] = self.errors.get(key, 0) + n

    # -- scoring -------------------------------------------------------------------------------

    def model(self, name: str | None) -> ServedModel:
        served = self.served.get(name or self.default)
        if served is None:
            raise InvalidRequest(
                f"no model {name!r} is served here; served: {', '.join(self.served)}", status=404
            )
        if served.snapshot is None:
            raise InvalidRequest(
                f"{served.name} is not loaded yet"
                + (f": {self.problems[served.name]}" if served.name in self.problems else ""),
                status=503,
            )
        return served

    def score(self, served: ServedModel, frame: pd.DataFrame, request_id: str) -> tuple[Any, int]:
        """The predictions for ``frame`` (rows in order) and the version that answered the
        first row; queues the log entries."""
        import numpy as np

        started = time.perf_counter()
        snap = served.snapshot
        plan, candidate = snap.plan, snap.candidate
        key = served.extra_columns
        checked = snap.champion.check(frame, key)
        if plan is None or plan.mode == "shadow":
            predictions = self._predict(snap.champion, checked, plan, CHAMPION)
            parts = [(snap.champion, CHAMPION, np.arange(len(frame)), predictions)]
        else:
            to_candidate = plan.to_candidate(frame, request_id)
            predictions = None
            parts = []
            for loaded, arm, rows in (
                (snap.champion, CHAMPION, np.flatnonzero(~to_candidate)),
                (candidate, CANDIDATE, np.flatnonzero(to_candidate)),
            ):
                if not len(rows):
                    continue
                part_checked = checked if len(rows) == len(frame) else checked.iloc[rows]
                if loaded is not snap.champion:
                    part_checked = loaded.check(frame.iloc[rows], key)
                out = self._predict(loaded, part_checked, plan, arm)
                if predictions is None:
                    predictions = np.empty(len(frame), dtype=out.dtype)
                elif predictions.dtype != out.dtype:
                    predictions = predictions.astype(np.result_type(predictions, out))
                predictions[rows] = out
                parts.append((loaded, arm, rows, out))
        seconds = time.perf_counter() - started
        ids = _row_ids(request_id, len(frame))
        now = time.time()
        for loaded, arm, rows, out in parts:
            self.metrics.observe(served.name, loaded.version, arm, len(rows), seconds)
            if self.options.log_predictions:
                self.buffer.add(
                    Entry(
                        served.name,
                        loaded.version,
                        frame if len(rows) == len(frame) else frame.iloc[rows],
                        out,
                        [ids[i] for i in rows],
                        request_id,
                        arm if plan is not None else "",
                        seconds * 1000,
                        now,
                    )
                )
        if plan is not None and plan.mode == "shadow" and candidate is not None:
            self._shadow.submit(ShadowJob(served.name, candidate, frame, key, ids, request_id))
        return predictions, parts[0][0].version

    def _shadow_scored(self, jobs: list[ShadowJob], frame, predictions, seconds: float) -> None:
        for job in jobs:
            self.metrics.observe(job.name, job.candidate.version, SHADOW, len(job.ids), seconds)
        if self.options.log_predictions:
            # One entry for the batch, each row under its own request id.
            self.buffer.add(
                Entry(
                    jobs[0].name,
                    jobs[0].candidate.version,
                    frame,
                    predictions,
                    [i for job in jobs for i in job.ids],
                    [job.request_id for job in jobs for _ in job.ids],
                    SHADOW,
                    seconds * 1000,
                    time.time(),
                )
            )

    def _shadow_failed(self, job: ShadowJob, exc: Exception) -> None:
        # The shadow never affects the response: its failures count against its arm.
        log.warning("shadow %s failed on request %s: %s", job.candidate.uri, job.request_id, exc)
        snap = self.served[job.name].snapshot
        self._count_error(snap.plan if snap is not None else None, SHADOW)

    def status(self) -> dict:
        """What is served now (``/health`` and the notebook handle show it)."""
        out = {}
        for name, served in self.served.items():
            snap = served.snapshot
            entry: dict[str, Any] = {"ref": served.ref.uri, "version": None}
            if snap is not None:
                entry["version"] = snap.champion.version
                if snap.plan is not None:
                    entry["rollout"] = {
                        "id": snap.plan.rollout_id,
                        "mode": snap.plan.mode,
                        "candidate": snap.plan.candidate,
                        "share": snap.plan.share,
                    }
            if name in self.problems:
                entry["problem"] = self.problems[name]
            out[name] = entry
        return out


def _row_ids(request_id: str, rows: int) -> list[str]:
    """The prediction id of each row: the request id itself for a one-row request."""
    if rows == 1:
        return [request_id]
    return [f"{request_id}/{i}" for i in range(rows)]
