"""The active-run stack and the module-level logging functions (``nbmlops.log_metric`` …).

The stack lives in a :class:`contextvars.ContextVar`, so each thread and each asyncio task
has its own: a new thread starts with no active run, an asyncio task starts with the runs
active where it was created, and a run opened in one never becomes the parent, or receives
the metrics, of a run in another. A process-wide list of open runs (for ending them at
exit) is kept separately.
"""

from __future__ import annotations

import atexit
import contextvars
import os
import sys
import threading
import time
import uuid
import weakref
from typing import Any

from .. import _args
from ..config import get_settings
from ..errors import NoActiveRun
from ..store import Store, get_store
from . import _validate as v
from ._writer import writer
from .environment import (
    Environment,
    git_state,
    process_identity,
    ready_environment,
    source_of_process,
    start_reading_environment,
    when_environment_ready,
)
from .run import FAILED, FINISHED, KILLED, RUNNING, Run, end_status, format_exception

# The runs opened in this context, outermost first. A tuple: a context copied into an asyncio
# task must not see runs the task's creator opens later, nor the creator those of the task.
_stack: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar(
    "nbmlops_active_runs", default=()
)
# Every run this process opened and has not ended yet, oldest first, whatever its context.
_open_runs: dict[str, ActiveRun] = {}
_open_lock = threading.Lock()
# Environments already recorded, per store (weak: a store dropped by configure is released).
_known_envs: weakref.WeakKeyDictionary[Store, set[str]] = weakref.WeakKeyDictionary()


class ActiveRun(Run):
    """A run opened by this process: use it as a context manager to end it automatically.

    Leaving the ``with`` block normally ends the run FINISHED; an exception ends it FAILED with
    the traceback stored (KILLED for ``KeyboardInterrupt``) and propagates unchanged.
    """

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.end(FINISHED)
        elif isinstance(exc, KeyboardInterrupt):
            self.end(KILLED, error=format_exception(exc))
        else:
            self.end(FAILED, error=format_exception(exc))

    @property
    def is_open(self) -> bool:
        """Whether this process opened the run and has not ended it yet."""
        with _open_lock:
            return self.run_id in _open_runs

    def end(self, status: str = FINISHED, error: str | None = None) -> None:
        """End the run (and runs still open inside it in this context) with ``status``.

        The run leaves the active stack only once its final write committed: when ending
        fails (disk full, database down) it stays active with its buffered metrics, and
        calling ``end`` again retries.
        """
        status = end_status(status)  # refuse a bad status before anything changes
        stack = _stack.get()
        if self in stack:
            # Children still open end with their parent, innermost first.
            for child in reversed(stack[stack.index(self) + 1 :]):
                if child.is_open:
                    child.end(status, error)
        super().end(status, error)
        with _open_lock:
            _open_runs.pop(self.run_id, None)
        stack = _stack.get()
        if self in stack:
            _stack.set(tuple(r for r in stack[: stack.index(self)] if r.is_open))


def _ensure_environment(store: Store, env: Environment) -> str:
    known = _known_envs.setdefault(store, set())
    if env.env_id not in known:
        digest, _size = store.artifacts.put_bytes(env.packages_text.encode())
        store.meta.ensure_environment(
            {
                "env_id": env.env_id,
                "python": env.python,
                "implementation": env.implementation,
                "platform": env.platform[:256],
                "packages_digest": digest,
                "n_packages": len(env.packages),
                "created_at": time.time(),
            }
        )
        known.add(env.env_id)
    return env.env_id


def _record_environment(store: Store, run_id: str, env: Environment) -> None:
    """Link a run written before the package list was known to its environment."""
    store.meta.update_run(run_id, env_id=_ensure_environment(store, env))


# (artifact store, git state, digest, size) of the last git.diff stored: an unchanged dirty
# repository (the same GitState object) reuses the blob instead of hashing it again.
_last_diff: tuple[Any, Any, str, int] | None = None


def _stored_diff(store: Store, git: Any) -> tuple[str, int]:
    global _last_diff
    last = _last_diff
    if (
        last is not None
        and last[0] is store.artifacts
        and last[1] is git
        and os.path.exists(store.artifacts.path_of(last[2]))  # still there (a stat, no hash)
    ):
        return last[2], last[3]
    digest, size = store.artifacts.put_bytes(
        git.diff.encode("utf-8", "surrogateescape"), durable=False
    )
    _last_diff = (store.artifacts, git, digest, size)
    return digest, size


def start_run(
    name: str | None = None,
    experiment: str | None = None,
    tags: dict[str, Any] | None = None,
    *,
    code: str | None = None,
    parent_run_id: str | None = None,
) -> ActiveRun:
    """Open a run (nested under the active run, if any) and make it the active run.

    The parent is ``parent_run_id`` when given, else the active run of this thread (or
    asyncio task), else the run named by the ``NBMLOPS_PARENT_RUN_ID`` environment variable:
    ``nbmlops.run_notebook`` sets it for the kernels it starts, so tracked cells become
    children of the notebook run. A new thread starts with no active run: pass
    ``parent_run_id=run.run_id`` to nest its runs under one.

    >>> import nbmlops
    >>> with nbmlops.start_run(name="baseline", tags={"team": "risk"}) as run:  # doctest: +SKIP
    ...     nbmlops.log_metric("loss", 0.3, step=1)
    """
    settings = get_settings()
    if experiment is None or (isinstance(experiment, str) and not experiment):
        experiment = settings.experiment
    experiment = v.key("experiment", experiment)
    if name is not None:
        name = v.key("run name", name)
    tags = _args.mapping(tags, "start_run(tags=...)", optional=True)
    encoded_tags = {v.key("tag", k): v.tag_value(k, val) for k, val in tags.items()}
    _args.text(code, "start_run(code=...)", optional=True)
    store = get_store(settings)
    if parent_run_id is not None:
        parent_run_id = store.meta.resolve_run_id(parent_run_id)  # RunNotFound if unknown
    start_reading_environment()  # in a background thread, once per process
    env = ready_environment()
    env_id = _ensure_environment(store, env) if env is not None else None
    git = git_state()
    source, source_kind = source_of_process()
    host, user = process_identity()
    now = time.time()
    current = active_run()
    parent = parent_run_id or (
        current.run_id if current else os.environ.get("NBMLOPS_PARENT_RUN_ID") or None
    )
    run_id = uuid.uuid4().hex
    artifacts = []
    if git and git.diff:
        # Stored before the run row, and recorded in the same transaction as the run; synced
        # with the run's other artifacts (Run.end, the background writer).
        digest, size = _stored_diff(store, git)
        artifacts.append(
            {
                "name": "git.diff",
                "digest": digest,
                "size": size,
                "media_type": "text/plain; charset=utf-8",
                "created_at": now,
            }
        )
    store.meta.create_run(
        {
            "run_id": run_id,
            "name": name,
            "status": RUNNING,
            "start_time": now,
            "heartbeat_at": now,
            "parent_run_id": parent,
            "source": source,
            "source_kind": source_kind,
            "code": code,
            "host": host,
            "pid": os.getpid(),
            "user_name": user,
            "env_id": env_id,
            "git_commit": git.commit if git else None,
            "git_branch": git.branch if git else None,
            "git_dirty": git.dirty if git else None,
        },
        experiment,
        encoded_tags,
        artifacts,
    )
    run = ActiveRun(store, run_id)
    with _open_lock:
        _open_runs[run_id] = run
    _stack.set((*_stack.get(), run))
    writer.open_run(store, run_id)
    if env_id is None:
        when_environment_ready(lambda env: _record_environment(store, run_id, env))
    _install_exit_handlers()
    return run


def active_run() -> ActiveRun | None:
    """The innermost open run of this thread (or asyncio task), or None."""
    stack = _stack.get()
    if stack and not stack[-1].is_open:
        # Ended elsewhere (another thread, or a context this one was copied from).
        stack = tuple(r for r in stack if r.is_open)
        _stack.set(stack)
    return stack[-1] if stack else None


def end_run(status: str = FINISHED) -> None:
    """End the active run (FINISHED unless ``status`` says otherwise)."""
    run = active_run()
    if run is None:
        raise NoActiveRun("end a run")
    run.end(status)


def _require(what: str) -> ActiveRun:
    run = active_run()
    if run is None:
        raise NoActiveRun(what)
    return run


def log_param(key: str, value: Any) -> None:
    """Record a param of the active run."""
    _require("log a param").log_param(key, value)


def log_params(params: dict[str, Any]) -> None:
    _require("log params").log_params(params)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: float | None = None
) -> None:
    """Record a metric value of the active run (buffered)."""
    _require("log a metric").log_metric(key, value, step, timestamp)


def log_metrics(
    metrics: dict[str, float], step: int | None = None, timestamp: float | None = None
) -> None:
    _require("log metrics").log_metrics(metrics, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    _require("set a tag").set_tag(key, value)


def set_tags(tags: dict[str, Any]) -> None:
    _require("set tags").set_tags(tags)


def log_input(data: Any, name: str) -> None:
    """Record the fingerprint of a DataFrame/Series/array the active run read."""
    _require("log an input").log_input(data, name)


def log_output(data: Any, name: str) -> None:
    _require("log an output").log_output(data, name)


def log_artifact(path: str, name: str | None = None) -> list[str]:
    """Store a file or folder as artifacts of the active run."""
    return _require("log an artifact").log_artifact(path, name)


def log_text(text: str, name: str) -> str:
    return _require("log text").log_text(text, name)


def log_dict(data: dict, name: str) -> str:
    return _require("log a dict").log_dict(data, name)


def log_figure(figure: Any, name: str) -> str:
    return _require("log a figure").log_figure(figure, name)


# -- process exit ---------------------------------------------------------------------------

_exit_state = {"installed": False, "uncaught": None}


def _install_exit_handlers() -> None:
    if _exit_state["installed"]:
        return
    _exit_state["installed"] = True
    previous = sys.excepthook

    def excepthook(exc_type, exc, tb):
        _exit_state["uncaught"] = exc
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    atexit.register(_end_open_runs)


def _end_open_runs() -> None:
    """A script that exits with runs open ends them, newest first (those of every thread):
    FAILED after an uncaught exception."""
    exc = _exit_state["uncaught"]
    with _open_lock:
        runs = list(_open_runs.values())
    for run in reversed(runs):
        if not run.is_open:
            continue
        try:
            if exc is None:
                run.end(FINISHED)
            else:
                run.end(FAILED, error=format_exception(exc))
        except Exception:  # noqa: BLE001 - the process is exiting; the heartbeat will tell
            with _open_lock:
                _open_runs.pop(run.run_id, None)


def _forget_in_child() -> None:
    # A forked child must not end its parent's runs when it exits.
    global _open_lock
    _open_lock = threading.Lock()
    _open_runs.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
