"""``run_notebook``: execute one notebook with papermill and record it as a run.

What a notebook run records (run tags ``nbmlops.*`` are set by nbmlops):

- params: the parameters as the notebook received them (papermill injects them after the cell
  tagged ``parameters``, with papermill's own typing: int, float, str, bool, None, list and dict
  arrive as such; anything else, such as a tuple, arrives as its ``str()``, and dict keys as
  strings, and is recorded that way);
- tags: ``nbmlops.kind=notebook``, ``nbmlops.notebook`` (absolute path),
  ``nbmlops.notebook_hash`` (sha256 of cell sources, outputs ignored), ``nbmlops.kernel``,
  ``nbmlops.cwd``, ``nbmlops.output``, ``nbmlops.gates`` (JSON), ``nbmlops.outcome``
  (``ok``/``execution_failed``/``gate_failed``) and ``nbmlops.gate`` (``passed``/``failed``,
  when there were gates);
- git state, environment, host and duration, as for every run;
- artifacts: ``notebook/input.ipynb`` (the notebook as given) and ``notebook/executed.ipynb``
  (with outputs, also when a cell failed), ``gates.json`` when there were gates;
- metrics: rolled up from the runs the notebook's tracked cells made (below).

**Child runs.** The kernel is started with ``NBMLOPS_PARENT_RUN_ID`` (and this process's
``NBMLOPS_HOME``/``NBMLOPS_STORE_URL``/``NBMLOPS_ARTIFACTS``/``NBMLOPS_EXPERIMENT``), so every run
the notebook opens with an empty stack — each ``%%track`` cell — is a child of the notebook
run, in the same workspace and experiment.

**Roll-up rule.** The notebook run's metrics are the latest value of every metric key of its
descendant runs (children, their children …), taken in the order the runs started: when two
cells log ``f1``, the later cell's value wins. The values are logged as metrics of the notebook
run itself, so ``nbmlops.runs()``, filters and gates see them.

**Process-wide state.** papermill's ``cwd`` is a ``chdir`` of the whole process and the kernel
inherits this process's environment variables, so a notebook run holds a process-wide lock:
run notebooks in parallel with processes (the pipeline executors do), never threads.

**Secrets.** papermill writes the parameters in plain text into the executed notebook (the
injected cell and its metadata), which is stored as an artifact, and into the run's params.
Do not pass secrets as parameters: read them from the environment inside the notebook.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import _args
from ..config import get_settings
from ..errors import GateFailed, NotebookFailed
from ..store import get_store
from ..tracking import _active
from ..tracking import _validate as v
from ..tracking.run import FAILED, FINISHED
from ._gatecell import GATE_FILE_ENV, read_gate_file
from ._prepare import (
    check_parameters,
    failed_cell,
    kernel_of,
    notebook_hash,
    prepare,
    read_notebook,
    received_parameters,
    source_index,
)
from .gates import gate_table, validate_gates
from .result import EXECUTION_FAILED, GATE_FAILED, OK, PipelineRun
from .spec import MAX_TIMEOUT_S

_process_lock = threading.RLock()
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

INPUT_ARTIFACT = "notebook/input.ipynb"
EXECUTED_ARTIFACT = "notebook/executed.ipynb"


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the kernel about to start; restore them afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _kernel_environment(experiment: str) -> dict[str, str]:
    settings = get_settings()
    return {
        "NBMLOPS_HOME": str(settings.home),
        "NBMLOPS_STORE_URL": settings.store_url,
        "NBMLOPS_ARTIFACTS": settings.artifacts,
        "NBMLOPS_EXPERIMENT": experiment,
        "NBMLOPS_HEARTBEAT_S": repr(settings.heartbeat_s),
        "NBMLOPS_STALE_AFTER_S": repr(settings.stale_after_s),
        "NBMLOPS_FLUSH_S": repr(settings.flush_s),
        "NBMLOPS_PREDICTION_LOG": settings.prediction_log,
        "NBMLOPS_LOG_REDACT": ",".join(settings.log_redact),
        **(
            {"NBMLOPS_LOG_RETENTION_DAYS": repr(settings.log_retention_days)}
            if settings.log_retention_days is not None
            else {}
        ),
    }


def run_notebook(
    path: str | os.PathLike,
    parameters: dict[str, Any] | None = None,
    output: str | os.PathLike | None = None,
    experiment: str | None = None,
    kernel: str | None = None,
    cwd: str | os.PathLike | None = None,
    timeout: float | None = None,
    gates: list[str] | str | None = None,
    *,
    allow_unknown: bool = False,
    parent_run_id: str | None = None,
    name: str | None = None,
    tags: dict[str, Any] | None = None,
    raise_on_failure: bool = True,
) -> PipelineRun:
    """Execute the notebook at ``path`` with ``parameters`` and record it as a run.

    ``output`` is where the executed notebook is written (default
    ``<workspace>/notebooks/<name>-<run id>.ipynb``); ``cwd`` the kernel's working directory
    (default: the notebook's folder, as in Jupyter); ``timeout`` the limit in seconds for one
    cell; ``kernel`` the kernel name (default: the notebook's, else ``python3``); ``gates``
    expressions such as ``"metrics.f1 >= 0.85"`` on the rolled-up metrics. ``parent_run_id``
    nests the run under another (default: the active run of this process, if any).

    A failing cell raises :class:`~nbmlops.errors.NotebookFailed`, a failing gate
    :class:`~nbmlops.errors.GateFailed` (both with ``.result``, the :class:`PipelineRun`);
    the run is FAILED either way and the executed notebook saved. With
    ``raise_on_failure=False`` the :class:`PipelineRun` is returned instead, ``error`` set.

    >>> import nbmlops
    >>> result = nbmlops.run_notebook("train.ipynb", {"lr": 0.01}, gates=["metrics.f1 >= 0.8"])  # doctest: +SKIP
    >>> result.metrics  # doctest: +SKIP
    {'f1': 0.87}
    """
    source = _args.path(path, "run_notebook(path=...)").resolve()
    output = _args.path(output, "run_notebook(output=...)", optional=True)
    cwd = _args.path(cwd, "run_notebook(cwd=...)", optional=True)
    _args.text(experiment, "run_notebook(experiment=...)", optional=True)
    _args.text(kernel, "run_notebook(kernel=...)", optional=True)
    _args.text(name, "run_notebook(name=...)", optional=True)
    _args.mapping(tags, "run_notebook(tags=...)", optional=True)
    allow_unknown = _args.flag(allow_unknown, "run_notebook(allow_unknown=...)")
    raise_on_failure = _args.flag(raise_on_failure, "run_notebook(raise_on_failure=...)")
    return _run(
        source,
        source,
        parameters,
        output,
        experiment,
        kernel,
        cwd,
        timeout,
        gates,
        allow_unknown=allow_unknown,
        parent_run_id=parent_run_id,
        name=name,
        tags=tags,
        raise_on_failure=raise_on_failure,
    )


def _run(
    execute_path: Path,
    record_path: Path,
    parameters,
    output,
    experiment,
    kernel,
    cwd,
    timeout,
    gates,
    *,
    allow_unknown: bool,
    parent_run_id: str | None,
    name: str | None,
    tags: dict[str, Any] | None,
    raise_on_failure: bool,
) -> PipelineRun:
    """``run_notebook`` of ``execute_path``, recorded as the notebook at ``record_path``
    (``reproduce`` executes a stored copy of a notebook in place of the original)."""
    nb = read_notebook(execute_path)
    params = dict(parameters or {})
    check_parameters(execute_path, nb, params, allow_unknown)
    gates = validate_gates(gates)
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout <= MAX_TIMEOUT_S  # NaN and infinity compare false here
    ):
        raise v.InvalidParam(
            "timeout", timeout, f"a number of seconds in (0, {MAX_TIMEOUT_S}], or None"
        )
    kernel_name = kernel_of(nb, kernel)
    # papermill passes what it passes (a tuple arrives as its text): record that.
    received = received_parameters(nb, kernel_name, params)
    for key, value in received.items():
        v.key("param", key)
        v.param_json(key, value)  # a value papermill can inject but we cannot store: refuse now
    digest = notebook_hash(nb)
    prepared, _n_gate_cells = prepare(nb)
    work_dir = Path(cwd).resolve() if cwd is not None else record_path.parent
    if not work_dir.is_dir():
        raise v.InvalidParam("cwd", str(cwd), "not an existing folder")
    settings = get_settings()
    experiment_name = experiment or settings.experiment
    run_name = name or record_path.stem

    with _process_lock:
        # The run records the notebook as its source (NBMLOPS_SOURCE), not this process.
        with _environ({"NBMLOPS_SOURCE": str(record_path)}):
            run = _active.start_run(
                name=run_name,
                experiment=experiment_name,
                tags={
                    "nbmlops.kind": "notebook",  # callers may say more (e.g. a pipeline step)
                    **(tags or {}),
                    "nbmlops.notebook": str(record_path),
                    "nbmlops.notebook_hash": digest,
                    "nbmlops.kernel": kernel_name,
                    "nbmlops.cwd": str(work_dir),
                    **({"nbmlops.gates": json.dumps(gates)} if gates else {}),
                },
                parent_run_id=parent_run_id,
            )
        try:
            return _execute_and_record(
                run,
                prepared,
                nb,
                params,
                received,
                gates,
                kernel_name,
                work_dir,
                timeout,
                output,
                record_path,
                experiment_name,
                digest,
                raise_on_failure,
            )
        except BaseException as exc:
            if run.is_open:  # our own machinery failed: never leave it RUNNING
                run.end(FAILED, error=f"nbmlops could not finish the notebook run: {exc!r}")
            raise


def _execute_and_record(
    run,
    prepared,
    nb,
    params,
    received,
    gates,
    kernel_name,
    work_dir,
    timeout,
    output,
    record_path,
    experiment_name,
    digest,
    raise_on_failure,
) -> PipelineRun:
    import nbformat

    settings = get_settings()
    out = (
        Path(output).resolve()
        if output is not None
        else settings.home / "notebooks" / f"{record_path.stem}-{run.run_id[:8]}.ipynb"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if received:
        run.log_params(received)
    run.set_tag("nbmlops.output", str(out))
    run.log_bytes(nbformat.writes(nb).encode(), INPUT_ARTIFACT, "application/x-ipynb+json")

    scratch = Path(tempfile.mkdtemp(prefix="nbmlops-run-"))
    started = time.perf_counter()
    try:
        prepared_path = scratch / record_path.name
        nbformat.write(prepared, prepared_path)
        gate_file = scratch / "gates.jsonl"
        env = {
            **_kernel_environment(experiment_name),
            "NBMLOPS_PARENT_RUN_ID": run.run_id,
            "NBMLOPS_SOURCE": str(record_path),
            GATE_FILE_ENV: str(gate_file),
        }
        with _environ(env):
            failure = _papermill(prepared_path, out, params, kernel_name, work_dir, timeout)
        checks = read_gate_file(gate_file)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    duration = time.perf_counter() - started

    executed = nbformat.read(out, as_version=4) if out.is_file() else None
    if executed is not None:
        executed.metadata.setdefault("papermill", {})["input_path"] = str(record_path)
        nbformat.write(executed, out)
        run.log_artifact(out, EXECUTED_ARTIFACT)

    store = get_store(settings)
    descendants = store.meta.descendant_runs(run.run_id)
    _end_orphans(store, descendants, failure is not None)
    rolled = roll_up(store, descendants)
    if rolled:
        run.log_metrics(rolled)

    table = gate_table(gates, rolled, checks)
    error: Exception | None = None
    if failure is not None:
        outcome = EXECUTION_FAILED
        error = _notebook_failed(failure, executed, record_path, out, run.run_id)
    elif len(table) and not table["passed"].all():
        outcome = GATE_FAILED
        error = GateFailed(
            f"notebook {record_path.name} (run {run.run_id[:8]})",
            table,
            outcome=f"the run is FAILED (tag nbmlops.gate=failed); executed notebook: {out}",
        )
    else:
        outcome = OK
    run_tags = {"nbmlops.outcome": outcome}
    if len(table):
        run_tags["nbmlops.gate"] = "passed" if table["passed"].all() else "failed"
        run.log_dict(json.loads(table.to_json(orient="records", double_precision=15)), "gates.json")
    run.set_tags(run_tags)
    status = FINISHED if outcome == OK else FAILED
    run.end(status, error=_error_text(error, failure))

    result = PipelineRun(
        run_id=run.run_id,
        status=status,
        outcome=outcome,
        notebook=str(record_path),
        output=str(out) if out.is_file() else None,
        experiment=experiment_name,
        params=received,
        metrics=rolled,
        child_run_ids=[d["run_id"] for d in descendants if d["parent_run_id"] == run.run_id],
        duration_s=duration,
        gates=table,
        notebook_hash=digest,
        error=error,
    )
    if error is not None:
        error.result = result  # type: ignore[attr-defined]
        if raise_on_failure:
            raise error
    return result


def _papermill(prepared_path, out, params, kernel_name, work_dir, timeout) -> Exception | None:
    """Execute; return the exception that stopped the notebook (None when it ran through)."""
    import papermill

    with _kernel_transport() as config:
        try:
            papermill.execute_notebook(
                str(prepared_path),
                str(out),
                parameters=params or None,
                kernel_name=kernel_name,
                cwd=str(work_dir),
                progress_bar=False,
                log_output=False,
                execution_timeout=timeout,
                # nbclient's graceful shutdown stalls ~4 s in 10-15% of runs (DESIGN.md).
                shutdown_kernel="immediate",
                config=config,
            )
        except papermill.PapermillExecutionError as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - timeouts, dead kernels, missing kernelspecs
            return exc
    return None


@contextlib.contextmanager
def _kernel_transport():
    """Kernel sockets that two notebooks started at once cannot both claim.

    Over TCP, jupyter_client picks free ports and the kernel binds them a moment later; a
    kernel started in parallel can take one in between ("Address already in use", the kernel
    dies before replying). On POSIX the kernel gets Unix sockets in a folder of its own instead.
    """
    from traitlets.config import Config

    if os.name != "posix":
        yield Config()
        return
    folder = tempfile.mkdtemp(prefix="nbmlops-kernel-")
    try:
        yield Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(folder, "k")}})
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _notebook_failed(failure, executed, record_path, out, run_id) -> NotebookFailed:
    import papermill

    executed_index = failed_cell(executed)
    if isinstance(failure, papermill.PapermillExecutionError):
        ename, evalue = failure.ename, failure.evalue
        traceback = _ANSI.sub("", "\n".join(failure.traceback or []))
    else:
        ename, evalue = type(failure).__name__, str(failure).strip().splitlines()[0:1]
        evalue = evalue[0] if evalue else ""
        traceback = f"{type(failure).__name__}: {failure}"
    index = source_index(executed, executed_index)
    cell_source = ""
    if executed is not None and executed_index is not None:
        cell = executed.cells[executed_index]
        cell_source = cell.get("source", "")
        if cell_source.startswith("%%nbmlops_gate"):
            cell_source = cell_source.split("\n", 1)[1] if "\n" in cell_source else ""
    return NotebookFailed(
        record_path.name,
        index,
        executed_index,
        ename,
        evalue,
        str(out) if out.is_file() else None,
        run_id,
        traceback=traceback,
        cell_source=cell_source,
    )


def _error_text(error: Exception | None, failure: Exception | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, NotebookFailed):
        return f"{error}\n\n{error.traceback}".rstrip()
    return str(error)


def _end_orphans(store, descendants: list[dict], failed: bool) -> None:
    """Runs the kernel left RUNNING (it was shut down, or stopped at a failing cell) end now."""
    now = time.time()
    for row in descendants:
        if row["status"] == "RUNNING":
            status = FAILED if failed else FINISHED
            store.meta.finish_run(
                row["run_id"],
                status,
                now,
                [],
                "the notebook run ended while this run was still open" if failed else None,
            )
            row["status"] = status


def roll_up(store, descendants: list[dict]) -> dict[str, float]:
    """Latest value per metric key over ``descendants`` (oldest first: later runs win)."""
    rolled: dict[str, float] = {}
    for row in descendants:
        rolled.update(store.meta.run_details(row["run_id"])["metrics"])
    return rolled
