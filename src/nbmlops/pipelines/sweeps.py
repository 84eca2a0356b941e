"""Parameter sweeps: one tracked notebook run per combination of a grid, in parallel.

>>> import nbmlops
>>> table = nbmlops.sweep("train.ipynb", grid={"lr": [0.1, 0.01], "depth": [3, 5]}, parallel=2)  # doctest: +SKIP
>>> table.sort_values("metrics.f1", ascending=False).head(1)  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _args
from ..errors import PipelineError, PipelineFailed
from . import cache
from .dag import KIND_TAG, _progress
from .executors import NotebookTask, TaskOutcome, lost_task_error, make_executor

if TYPE_CHECKING:
    import pandas as pd

_UNSAFE = re.compile(r"[^\w.\-/: ]")


def _values(name: str, values: Any) -> list:
    """The values of one grid axis as a list of plain Python values (numpy scalars unwrapped,
    so papermill writes ``0.1``, not ``np.float64(0.1)``)."""
    if isinstance(values, str | bytes | Mapping) or not hasattr(values, "__iter__"):
        values = [values]
    out = []
    for value in values:
        item = getattr(value, "item", None)
        if callable(item) and getattr(value, "ndim", None) == 0:
            value = item()
        out.append(value)
    if not out:
        raise PipelineError(f"grid parameter {name!r} has no values; give at least one")
    return out


def grid_combinations(grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of ``grid`` (name -> list of values; a single value counts as a list
    of one), in the grid's order: the last name varies fastest."""
    if not isinstance(grid, Mapping) or not grid:
        raise PipelineError(
            "grid must be a non-empty mapping of parameter name to a list of values, e.g. "
            "{'lr': [0.1, 0.01], 'depth': [3, 5]}"
        )
    for name in grid:
        if not isinstance(name, str) or not name.isidentifier():
            raise PipelineError(f"grid parameter name {name!r} is not a Python identifier")
    axes = [_values(name, values) for name, values in grid.items()]
    return [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*axes)]


def _run_name(stem: str, combo: Mapping[str, Any]) -> str:
    text = stem + " " + " ".join(f"{k}:{v}" for k, v in combo.items())
    return _UNSAFE.sub("_", text)[:200].strip()


def sweep(
    path: str | os.PathLike,
    grid: Mapping[str, Any],
    parallel: int | None = None,
    executor: str = "local",
    scheduler: Any = None,
    *,
    parameters: Mapping[str, Any] | None = None,
    experiment: str | None = None,
    gates: Sequence[str] | None = None,
    kernel: str | None = None,
    timeout: float | None = None,
    cwd: str | os.PathLike | None = None,
    progress: bool = True,
    raise_on_failure: bool = False,
) -> pd.DataFrame:
    """Run the notebook once per combination of ``grid``, ``parallel`` at a time.

    Every run is a child of one sweep run. ``parameters`` are fixed values given to every run.
    ``executor="dask"`` runs on a Dask cluster (``scheduler``: address or ``Client``).

    Returns one row per combination, in grid order: ``run_id, status, params.<name>…,
    metrics.<key>…`` (the runs' rolled-up metrics), ``duration_s, error``; ``attrs
    ["sweep_run_id"]`` is the sweep run. Failed runs are rows with status FAILED; with
    ``raise_on_failure=True`` they raise :class:`~nbmlops.errors.PipelineFailed` instead.
    """
    from ..config import get_settings
    from ..tracking import start_run

    notebook = _args.path(path, "sweep(path=...)").expanduser().resolve()
    if not notebook.is_file() or notebook.suffix != ".ipynb":
        raise PipelineError(f"sweep: {str(path)!r} is not an existing .ipynb notebook")
    combos = grid_combinations(grid)
    fixed = dict(parameters or {})
    clash = sorted(set(fixed) & set(grid))
    if clash:
        raise PipelineError(
            f"sweep: {clash[0]!r} is both in grid and in parameters; keep it in one of them"
        )
    defined = cache.notebook_parameter_names(notebook)
    if defined is None:
        raise PipelineError(
            f"sweep: {notebook.name} has no cell tagged 'parameters'; tag the cell that sets "
            f"{', '.join(grid)} with 'parameters' (View > Cell Toolbar > Tags in Jupyter)"
        )
    unknown = sorted((set(grid) | set(fixed)) - defined)
    if unknown:
        raise PipelineError(
            f"sweep: {notebook.name} does not define {unknown[0]!r} in its 'parameters' cell "
            f"(it defines: {', '.join(sorted(defined)) or 'nothing'})"
        )
    import pandas as pd

    settings = get_settings()
    run = start_run(
        name=f"sweep {notebook.stem}",
        experiment=experiment,
        tags={KIND_TAG: "sweep", "nbmlops.sweep.notebook": str(notebook)},
    )
    run.log_dict(
        {
            "notebook": str(notebook),
            "grid": {k: _values(k, v) for k, v in grid.items()},
            "parameters": fixed,
        },
        "sweep.json",
    )
    tasks = [
        NotebookTask(
            label=f"{i}",
            notebook=str(notebook),
            parameters={**fixed, **combo},
            cwd=str(Path(cwd).resolve() if cwd else notebook.parent),
            parent_run_id=run.run_id,
            run_name=_run_name(notebook.stem, combo),
            store_url=settings.store_url,
            artifacts=str(settings.artifacts),
            experiment=experiment,
            tags={KIND_TAG: "sweep-run", "nbmlops.sweep": run.run_id},
            gates=tuple(gates or ()),
            kernel=kernel,
            timeout=timeout,
        )
        for i, combo in enumerate(combos)
    ]
    outcomes: dict[int, TaskOutcome] = {}
    bar = _progress(len(tasks), f"sweep {notebook.stem}", progress)
    pool = None
    try:
        pool = make_executor(executor, parallel, scheduler, n_tasks=len(tasks))
        futures = {pool.submit(task): int(task.label) for task in tasks}
        while futures:
            for future in pool.wait(set(futures)):
                index = futures.pop(future)
                try:
                    outcomes[index] = future.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker fails that run only
                    outcomes[index] = TaskOutcome(
                        str(index), "FAILED", None, {}, {}, 0.0, lost_task_error(exc)
                    )
                if bar is not None:
                    bar.update(1)
                    shown = _run_name("", combos[index])
                    outcome = outcomes[index]
                    bar.write(f"{shown}: {outcome.status.lower()} in {outcome.duration_s:.1f}s")
    except BaseException as exc:
        if pool is not None:
            pool.close(cancel=True)
            pool = None
        run.end("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED", error=repr(exc))
        raise
    finally:
        if pool is not None:
            pool.close()
        if bar is not None:
            bar.close()

    rows = []
    for index, combo in enumerate(combos):
        outcome = outcomes[index]
        rows.append(
            {
                "run_id": outcome.run_id,
                "status": outcome.status,
                **{f"params.{k}": v for k, v in combo.items()},
                **{f"metrics.{k}": v for k, v in outcome.metrics.items()},
                "duration_s": outcome.duration_s,
                "error": outcome.error,
            }
        )
    metric_columns = sorted({c for row in rows for c in row if c.startswith("metrics.")})
    columns = [
        "run_id",
        "status",
        *[f"params.{k}" for k in grid],
        *metric_columns,
        "duration_s",
        "error",
    ]
    table = pd.DataFrame(rows).reindex(columns=columns)
    for column in metric_columns:
        table[column] = table[column].astype(float)
    table.attrs["sweep_run_id"] = run.run_id
    failed = int((table["status"] != "FINISHED").sum())
    message = None
    if failed:
        first = table.loc[table["status"] != "FINISHED"].iloc[0]
        message = (
            f"sweep {notebook.stem}: {failed} of {len(table)} runs failed; first: "
            f"{str(first['error']).strip()[:500]}"
        )
    run.set_tags({"nbmlops.sweep.runs": str(len(table)), "nbmlops.sweep.failed": str(failed)})
    run.end("FAILED" if failed else "FINISHED", error=message)
    if message and raise_on_failure:
        gate_only = all(o.gate_failed for o in outcomes.values() if o.status != "FINISHED")
        raise PipelineFailed(table, message, gate_failed=gate_only)
    return table
