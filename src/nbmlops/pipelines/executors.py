"""Where notebooks of a pipeline or sweep run: a local process pool or a Dask cluster.

papermill's ``cwd`` is a process-wide ``chdir``, so two notebooks must never run in threads of
one process at the same time. The local executor gives each running notebook its own process
(a ``spawn`` pool: no forked copies of the caller's threads or database connections); with one
job there is nothing to overlap, and notebooks run one after the other in this process. On Dask,
each notebook runs as one task; a worker with several threads runs its notebooks one at a time
(a lock in :func:`run_task`), so start workers with ``--nthreads 1`` and as many ``--nworkers``
as notebooks should run at once.

Tasks and their outcomes are plain picklable dataclasses: the same :func:`run_task` runs in a
pool process, on a Dask worker of this machine or of another one (which must reach the same
store URL and artifact root, and the notebooks' folder).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Mapping
from typing import Any

from ..errors import NbmlopsError, PipelineError

EXECUTORS = ("local", "dask")
# One notebook at a time per process: papermill changes the process's working directory.
_RUN_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class NotebookTask:
    """One notebook to execute as a run (a pipeline step or one combination of a sweep)."""

    label: str  # the step name, or the sweep combination
    notebook: str  # absolute path
    parameters: Mapping[str, Any]
    cwd: str
    parent_run_id: str
    run_name: str
    store_url: str
    artifacts: str
    experiment: str | None = None
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    gates: tuple[str, ...] = ()
    kernel: str | None = None
    timeout: float | None = None
    # Pipeline steps only: check and record the declared outputs after a successful run.
    pipeline: Any = None  # spec.Pipeline
    step: Any = None  # spec.Step
    key: Any = None  # cache.StepKey


@dataclasses.dataclass(frozen=True)
class TaskOutcome:
    """What came back from one notebook task (plain values only, so it crosses processes)."""

    label: str
    status: str  # FINISHED or FAILED
    run_id: str | None
    metrics: Mapping[str, float]
    params: Mapping[str, Any]
    duration_s: float
    error: str | None = None
    gate_failed: bool = False
    output: str | None = None  # the executed notebook


def _execute_step(task: NotebookTask):
    """Run the notebook of ``task`` as a tracked run: the one place that calls run_notebook."""
    from .notebook import run_notebook

    return run_notebook(
        task.notebook,
        parameters=dict(task.parameters),
        experiment=task.experiment,
        kernel=task.kernel,
        cwd=task.cwd,
        timeout=task.timeout,
        gates=list(task.gates) or None,
        parent_run_id=task.parent_run_id,
        name=task.run_name,
        tags=dict(task.tags),
        raise_on_failure=False,
    )


def _use_store_of(task: NotebookTask) -> None:
    from ..config import configure, get_settings

    settings = get_settings()
    if settings.store_url != task.store_url or str(settings.artifacts) != task.artifacts:
        configure(store_url=task.store_url, artifacts=task.artifacts)


def run_task(task: NotebookTask) -> TaskOutcome:
    """Execute one notebook task in this process; never raises for a failing notebook."""
    from ..errors import GateFailed

    start = time.monotonic()
    try:
        _use_store_of(task)
        with _RUN_LOCK:
            run = _execute_step(task)
    except NbmlopsError as exc:  # the notebook could not even start (bad parameters, kernel …)
        return TaskOutcome(
            task.label,
            "FAILED",
            None,
            {},
            dict(task.parameters),
            time.monotonic() - start,
            str(exc),
        )
    except Exception as exc:  # noqa: BLE001 - reported as the step's failure, not lost
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return TaskOutcome(
            task.label, "FAILED", None, {}, dict(task.parameters), time.monotonic() - start, text
        )
    error = run.error
    status = "FINISHED" if run.status == "FINISHED" and error is None else "FAILED"
    message = None if error is None else str(error)
    if status == "FINISHED" and task.step is not None:
        message = _record_outputs(task, run.run_id)
        if message is not None:
            status = "FAILED"
    return TaskOutcome(
        label=task.label,
        status=status,
        run_id=run.run_id,
        metrics=dict(run.metrics or {}),
        params=dict(run.params or {}),
        duration_s=float(run.duration_s),
        error=message,
        gate_failed=run.outcome == "gate_failed" or isinstance(error, GateFailed),
        output=None if run.output is None else str(run.output),
    )


def _record_outputs(task: NotebookTask, run_id: str) -> str | None:
    """Check the step's declared outputs; store their digests for the cache. Returns an error
    message (and marks the run FAILED) when some are missing."""
    from ..store import get_store
    from .cache import record_success

    store = get_store()
    missing = record_success(store, run_id, task.pipeline, task.step, task.key)
    if not missing:
        return None
    message = (
        f"step {task.step.name!r} finished but did not write its declared output"
        f"{'s' if len(missing) > 1 else ''} {', '.join(missing)} (in {task.pipeline.root}); "
        "write the file(s) in the notebook or fix 'outputs' in the pipeline file"
    )
    store.meta.update_run(run_id, status="FAILED", error=message)
    return message


# -- executors ---------------------------------------------------------------------------------


class LocalExecutor:
    """A pool of ``jobs`` fresh Python processes (``spawn``), each running one notebook at a time."""

    name = "local"

    def __init__(self, jobs: int):
        self.jobs = jobs
        self._pool = cf.ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, task: NotebookTask):
        return self._pool.submit(run_task, task)

    def wait(self, futures, timeout: float | None = None) -> set:
        done, _pending = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return set(done)

    def close(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


class SerialExecutor:
    """One notebook at a time in this process (``jobs=1``): no worker process to start.

    Tasks run when the caller waits, one per ``wait``, so progress is reported between them.
    A notebook run in this process is what ``run_notebook`` does anyway; the pool only pays off
    when notebooks overlap.
    """

    name = "local"
    jobs = 1

    def __init__(self):
        self._queue: list[tuple[cf.Future, NotebookTask]] = []

    def submit(self, task: NotebookTask) -> cf.Future:
        future: cf.Future = cf.Future()
        self._queue.append((future, task))
        return future

    def wait(self, futures, timeout: float | None = None) -> set:
        done = {f for f in futures if f.done()}
        if done:
            return done
        for index, (future, task) in enumerate(self._queue):
            if future in futures:
                del self._queue[index]
                future.set_running_or_notify_cancel()
                try:
                    future.set_result(run_task(task))
                except Exception as exc:  # noqa: BLE001 - handed to the caller like a pool's
                    future.set_exception(exc)
                return {future}
        return set()

    def close(self, cancel: bool = False) -> None:
        for future, _task in self._queue:
            future.cancel()
        self._queue.clear()


class DaskExecutor:
    """Tasks on a Dask distributed cluster: a ``Client``, a scheduler address, or (neither
    given) the current client of this session or else a new ``LocalCluster`` of ``jobs``
    single-threaded worker processes."""

    name = "dask"

    def __init__(self, scheduler: Any = None, jobs: int | None = None):
        try:
            import distributed
        except ImportError:
            raise PipelineError(
                "executor='dask' needs Dask distributed: pip install 'nbmlops[dask]'"
            ) from None
        self._distributed = distributed
        self._owned: list = []
        if isinstance(scheduler, distributed.Client):
            self.client = scheduler
        elif scheduler is not None:
            try:
                self.client = distributed.Client(str(scheduler))
            except (OSError, TimeoutError) as exc:
                raise PipelineError(
                    f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); start one with "
                    "`dask scheduler` and workers with `dask worker ADDRESS --nthreads 1`"
                ) from None
            self._owned.append(self.client)
        else:
            try:
                self.client = distributed.get_client()
            except ValueError:  # no client in this session: a small local cluster
                cluster = distributed.LocalCluster(
                    n_workers=jobs or os.cpu_count() or 1,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
                self.client = distributed.Client(cluster)
                self._owned += [self.client, cluster]

    def submit(self, task: NotebookTask):
        return self.client.submit(run_task, task, pure=False, key=f"nbmlops-{task_id(task.label)}")

    def wait(self, futures, timeout: float | None = None) -> set:
        try:
            done, _pending = self._distributed.wait(
                list(futures), timeout=timeout, return_when="FIRST_COMPLETED"
            )
        except self._distributed.TimeoutError:
            return set()
        return set(done)

    def close(self, cancel: bool = False) -> None:
        for owned in self._owned:
            owned.close()


def lost_task_error(exc: BaseException) -> str:
    """Why a task came back with no outcome (its process died, or Dask lost it), and what to do."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, cf.process.BrokenProcessPool):
        text += (
            " The notebook's worker process died or could not start. From a script, call "
            "run_pipeline/sweep under `if __name__ == '__main__':` (worker processes import the "
            "main module); otherwise check memory and the kernel's logs."
        )
    return text


def make_executor(executor: str | Any, jobs: int | None, scheduler: Any = None, n_tasks: int = 1):
    """The executor named ``executor`` (``"local"`` or ``"dask"``); ``jobs`` caps parallelism."""
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise PipelineError(f"jobs must be a positive integer, got {jobs!r}")
    if executor == "local":
        if scheduler is not None:
            raise PipelineError(
                "a scheduler is only used with executor='dask'; pass executor='dask' too"
            )
        workers = min(jobs or max(1, min(os.cpu_count() or 1, n_tasks)), max(1, n_tasks))
        return SerialExecutor() if workers == 1 else LocalExecutor(workers)
    if executor == "dask":
        return DaskExecutor(scheduler, jobs)
    raise PipelineError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")


def task_id(label: str) -> str:
    """A Dask-safe unique key for a task label."""
    import uuid

    return f"{label}-{uuid.uuid4().hex[:8]}"
