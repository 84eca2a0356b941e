"""The active-run stack and the module-level logging functions (``nbmlops.log_metric`` …)."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import uuid
from typing import Any

from .. import _args
from ..config import get_settings
from ..errors import NoActiveRun
from ..store import Store, get_store
from . import _validate as v
from ._writer import writer
from .environment import current_environment, git_state, process_identity, source_of_process
from .run import FAILED, FINISHED, KILLED, RUNNING, Run, end_status, format_exception

_stack: list[ActiveRun] = []
_stack_lock = threading.RLock()
_known_envs: set[tuple[int, str]] = set()


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

    def end(self, status: str = FINISHED, error: str | None = None) -> None:
        # Refuse a bad status before touching the stack, so the run stays active.
        status = end_status(status)
        with _stack_lock:
            if self in _stack:
                # Children still open end with their parent.
                while _stack and _stack[-1] != self:
                    _stack.pop().end(status, error)
                _stack.remove(self)
        super().end(status, error)


def _ensure_environment(store: Store) -> str:
    env = current_environment()
    ident = (id(store), env.env_id)
    if ident not in _known_envs:
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
        _known_envs.add(ident)
    return env.env_id


def start_run(
    name: str | None = None,
    experiment: str | None = None,
    tags: dict[str, Any] | None = None,
    *,
    code: str | None = None,
    parent_run_id: str | None = None,
) -> ActiveRun:
    """Open a run (nested under the active run, if any) and make it the active run.

    The parent is ``parent_run_id`` when given, else the active run of this process, else the
    run named by the ``NBMLOPS_PARENT_RUN_ID`` environment variable: ``nbmlops.run_notebook``
    sets it for the kernels it starts, so tracked cells become children of the notebook run.

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
    env_id = _ensure_environment(store)
    git = git_state()
    source, source_kind = source_of_process()
    host, user = process_identity()
    now = time.time()
    with _stack_lock:
        parent = parent_run_id or (
            _stack[-1].run_id if _stack else os.environ.get("NBMLOPS_PARENT_RUN_ID") or None
        )
        run_id = uuid.uuid4().hex
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
        )
        run = ActiveRun(store, run_id)
        _stack.append(run)
    writer.open_run(store, run_id)
    _install_exit_handlers()
    if git and git.diff:
        run.log_text(git.diff, "git.diff")
    return run


def active_run() -> ActiveRun | None:
    """The innermost open run of this process, or None."""
    with _stack_lock:
        return _stack[-1] if _stack else None


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
    """A script that exits with runs open ends them: FAILED after an uncaught exception."""
    exc = _exit_state["uncaught"]
    while True:
        run = active_run()
        if run is None:
            return
        try:
            if exc is None:
                run.end(FINISHED)
            else:
                run.end(FAILED, error=format_exception(exc))
        except Exception:  # noqa: BLE001 - the process is exiting; the heartbeat will tell
            with _stack_lock:
                if _stack and _stack[-1] is run:
                    _stack.pop()
