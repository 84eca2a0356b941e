"""Running a ``pipeline.yaml``: steps in dependency order, independent ones in parallel, cached
steps skipped, every step a child run of one pipeline run.

>>> import nbmlops
>>> result = nbmlops.run_pipeline("pipeline.yaml", jobs=2)  # doctest: +SKIP
>>> result.table()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NbmlopsError, PipelineError, PipelineFailed
from . import cache
from .executors import NotebookTask, TaskOutcome, lost_task_error, make_executor
from .spec import Pipeline, Step

if TYPE_CHECKING:
    import pandas as pd

RAN, CACHED, FAILED, NOT_RUN = "ran", "cached", "failed", "not run"
KIND_TAG = "nbmlops.kind"


@dataclasses.dataclass
class StepResult:
    """What happened to one step, and why."""

    name: str
    status: str  # ran, cached, failed or not run
    reason: str  # why it ran, why it was cached, or why it was not run
    run_id: str | None = None  # the step's run (for a cached step: the earlier run reused)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    duration_s: float = 0.0
    error: str | None = None
    gate_failed: bool = False


@dataclasses.dataclass
class PipelineResult:
    """The outcome of :func:`run_pipeline`: the pipeline run and one :class:`StepResult` per
    step, in execution order."""

    name: str
    path: str | None
    run_id: str
    status: str  # FINISHED or FAILED
    steps: dict[str, StepResult]
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.status == "FINISHED"

    @property
    def ran(self) -> list[str]:
        return [s.name for s in self.steps.values() if s.status == RAN]

    @property
    def cached(self) -> list[str]:
        return [s.name for s in self.steps.values() if s.status == CACHED]

    @property
    def failed(self) -> list[str]:
        return [s.name for s in self.steps.values() if s.status == FAILED]

    @property
    def not_run(self) -> list[str]:
        return [s.name for s in self.steps.values() if s.status == NOT_RUN]

    @property
    def gate_failed(self) -> bool:
        """True when steps failed and every failure was a quality gate."""
        failed = [s for s in self.steps.values() if s.status == FAILED]
        return bool(failed) and all(s.gate_failed for s in failed)

    @property
    def metrics(self) -> dict[str, float]:
        """Every step's metrics as ``<step>.<metric>`` (cached steps: the reused run's)."""
        return {f"{s.name}.{k}": v for s in self.steps.values() for k, v in s.metrics.items()}

    def table(self) -> pd.DataFrame:
        """One row per step: ``step, status, reason, run_id, duration_s``."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "step": s.name,
                    "status": s.status,
                    "reason": s.reason,
                    "run_id": s.run_id,
                    "duration_s": s.duration_s,
                }
                for s in self.steps.values()
            ],
            columns=["step", "status", "reason", "run_id", "duration_s"],
        )

    def summary(self) -> str:
        counts = ", ".join(
            f"{len(names)} {label}"
            for label, names in (
                (RAN, self.ran),
                (CACHED, self.cached),
                (FAILED, self.failed),
                (NOT_RUN, self.not_run),
            )
            if names
        )
        lines = [
            f"pipeline {self.name} {self.status} in {self.duration_s:.1f}s ({counts}); "
            f"run {self.run_id[:8]}"
        ]
        width = max((len(n) for n in self.steps), default=0)
        for s in self.steps.values():
            lines.append(f"  {s.name:<{width}}  {s.status:<7}  {s.reason}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.summary())

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (s.name, s.status, s.reason, (s.run_id or "")[:8], f"{s.duration_s:.1f}s")
            )
            + "</tr>"
            for s in self.steps.values()
        )
        return (
            f"<div><b>pipeline {html.escape(self.name)}</b> {html.escape(self.status)} "
            f"in {self.duration_s:.1f}s, run <code>{html.escape(self.run_id[:8])}</code>"
            "<table><thead><tr><th>step</th><th>status</th><th>reason</th><th>run</th>"
            f"<th>duration</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )


# -- planning ----------------------------------------------------------------------------------


def load(path_or_spec: str | os.PathLike | Pipeline | Mapping) -> Pipeline:
    if isinstance(path_or_spec, Pipeline):
        return path_or_spec
    if isinstance(path_or_spec, Mapping):
        return Pipeline.from_dict(path_or_spec, root=Path.cwd())
    return Pipeline.load(path_or_spec)


def step_parameters(
    pipeline: Pipeline, overrides: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Each step's parameters: the pipeline's ``parameters`` its notebook defines, then the
    step's own, then ``overrides`` (for the steps that define or set them).

    A pipeline-level or override parameter that no step's notebook defines is an error (a typo
    would otherwise be ignored silently).
    """
    overrides = dict(overrides or {})
    out: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for step in pipeline.steps.values():
        defined = cache.notebook_parameter_names(pipeline.resolve(step.notebook)) or set()
        params = {k: v for k, v in pipeline.parameters.items() if k in defined}
        params.update(step.parameters)
        params.update({k: v for k, v in overrides.items() if k in defined or k in params})
        used |= set(params)
        out[step.name] = params
    for origin, names in (("pipeline", pipeline.parameters), ("given", overrides)):
        unknown = sorted(set(names) - used)
        if unknown:
            raise PipelineError(
                f"{pipeline.where}: {origin} parameter {unknown[0]!r} is not defined in the "
                "'parameters' cell of any step's notebook; add it to the notebooks that use it "
                "or remove it",
                path=pipeline.where,
            )
    return out


# -- running -----------------------------------------------------------------------------------


def run_pipeline(
    path_or_spec: str | os.PathLike | Pipeline | Mapping,
    force: bool = False,
    jobs: int | None = None,
    executor: str = "local",
    scheduler: Any = None,
    parameters: Mapping[str, Any] | None = None,
    *,
    experiment: str | None = None,
    progress: bool = True,
    raise_on_failure: bool = True,
) -> PipelineResult:
    """Run the steps of a ``pipeline.yaml``: each step whose needs finished runs (in parallel
    with the other ready steps) unless the cache holds an identical earlier run.

    ``force=True`` reruns every step. ``jobs`` caps how many notebooks run at once (default:
    the number of CPUs). ``executor="dask"`` runs the notebooks on a Dask cluster: ``scheduler``
    is its address or a ``distributed.Client``. ``parameters`` override the pipeline's
    parameters for every step whose notebook defines them.

    A failing step stops the steps that need it (``not run: upstream X failed``) while the
    other branches finish; then :class:`~nbmlops.errors.PipelineFailed` is raised (its
    ``result`` holds everything) unless ``raise_on_failure=False``.

    >>> import nbmlops
    >>> nbmlops.run_pipeline("pipeline.yaml", jobs=2)  # doctest: +SKIP
    """
    from ..config import get_settings
    from ..store import get_store
    from ..tracking import start_run

    pipeline = load(path_or_spec)
    pipeline.check_inputs()
    params_of = step_parameters(pipeline, parameters)
    settings = get_settings()
    store = get_store(settings)
    experiment = experiment or pipeline.experiment
    env_id = cache.environment_id()
    order = pipeline.order()
    started = time.monotonic()
    results: dict[str, StepResult] = {}

    run = start_run(
        name=pipeline.name,
        experiment=experiment,
        tags={
            KIND_TAG: "pipeline",
            cache.PIPELINE_TAG: pipeline.name,
            "nbmlops.pipeline.file": str(pipeline.path or ""),
            "nbmlops.pipeline.force": str(bool(force)).lower(),
        },
    )
    bar = _progress(len(order), pipeline.name, progress)
    pool = None
    status, error = "FINISHED", None
    try:
        if pipeline.path is not None:
            run.log_artifact(pipeline.path, "pipeline.yaml")
        logged = {**pipeline.parameters, **dict(parameters or {})}
        if logged:
            run.log_params(logged)
        pending = {name: pipeline.steps[name] for name in order}
        running: dict[Any, str] = {}
        keys: dict[str, cache.StepKey] = {}
        while pending or running:
            for name in list(pending):
                step = pending[name]
                upstream_failed = [n for n in step.needs if n in results and _broken(results[n])]
                if upstream_failed:
                    what = results[upstream_failed[0]]
                    verb = "failed" if what.status == FAILED else "was not run"
                    results[name] = StepResult(
                        name, NOT_RUN, f"not run: upstream {upstream_failed[0]} {verb}"
                    )
                    del pending[name]
                    _report(bar, results[name])
                    continue
                if any(
                    n not in results or results[n].status not in (RAN, CACHED) for n in step.needs
                ):
                    continue
                del pending[name]
                try:
                    key = cache.step_key(pipeline, step, params_of[name], env_id)
                except OSError as exc:
                    results[name] = StepResult(
                        name, FAILED, f"cannot read an input of {name}: {exc}", error=str(exc)
                    )
                    _report(bar, results[name])
                    continue
                decision = cache.lookup(store, pipeline, step, key, force=force)
                if decision.cached:
                    from ..tracking.run import Run

                    results[name] = StepResult(
                        name,
                        CACHED,
                        decision.reason,
                        run_id=decision.run_id,
                        metrics=dict(Run(store, decision.run_id).metrics),
                    )
                    _report(bar, results[name])
                    continue
                keys[name] = key
                if pool is None:
                    pool = make_executor(executor, jobs, scheduler, n_tasks=len(order))
                task = _task(pipeline, step, params_of[name], key, run.run_id, settings, experiment)
                running[pool.submit(task)] = name
                results[name] = StepResult(name, "running", decision.reason)
                if bar is not None:
                    bar.write(f"{name}: running ({decision.reason})")
                    bar.set_postfix_str("running: " + ", ".join(sorted(running.values())))
            if not running:
                continue
            for future in pool.wait(set(running), timeout=None):
                name = running.pop(future)
                try:
                    outcome: TaskOutcome = future.result()
                except Exception as exc:  # noqa: BLE001 - a worker that died, a lost Dask task
                    outcome = TaskOutcome(name, "FAILED", None, {}, {}, 0.0, lost_task_error(exc))
                why = results[name].reason
                results[name] = StepResult(
                    name,
                    RAN if outcome.status == "FINISHED" else FAILED,
                    why if outcome.status == "FINISHED" else _first_line(outcome.error) or why,
                    run_id=outcome.run_id,
                    metrics=dict(outcome.metrics),
                    duration_s=outcome.duration_s,
                    error=outcome.error,
                    gate_failed=outcome.gate_failed,
                )
                _report(bar, results[name])
                if bar is not None:
                    bar.set_postfix_str(
                        ("running: " + ", ".join(sorted(running.values()))) if running else ""
                    )
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        error = f"{type(exc).__name__}: {exc}"
        if pool is not None:
            pool.close(cancel=True)
            pool = None
        run.end(status, error=error)
        raise
    finally:
        if pool is not None:
            pool.close()
        if bar is not None:
            bar.close()

    result = PipelineResult(
        name=pipeline.name,
        path=str(pipeline.path) if pipeline.path else None,
        run_id=run.run_id,
        status="FAILED"
        if any(r.status in (FAILED, NOT_RUN) for r in results.values())
        else "FINISHED",
        steps={name: results[name] for name in order},
        duration_s=time.monotonic() - started,
    )
    _record(run, result)
    message = None
    if not result.ok:
        message = _failure_message(result)
    run.end(result.status, error=message)
    if message and raise_on_failure:
        raise PipelineFailed(result, message, gate_failed=result.gate_failed)
    return result


def _broken(result: StepResult) -> bool:
    return result.status in (FAILED, NOT_RUN)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _task(
    pipeline: Pipeline,
    step: Step,
    parameters: dict,
    key: cache.StepKey,
    parent_run_id: str,
    settings,
    experiment: str | None,
) -> NotebookTask:
    return NotebookTask(
        label=step.name,
        notebook=str(pipeline.resolve(step.notebook)),
        parameters=parameters,
        cwd=str(pipeline.root),
        parent_run_id=parent_run_id,
        run_name=step.name,
        store_url=settings.store_url,
        artifacts=str(settings.artifacts),
        experiment=experiment,
        tags={
            KIND_TAG: "pipeline-step",
            cache.PIPELINE_TAG: pipeline.name,
            cache.STEP_TAG: cache.step_id(pipeline, step),
            cache.KEY_TAG: key.key,
        },
        gates=step.gates,
        kernel=step.kernel,
        timeout=step.timeout,
        pipeline=pipeline,
        step=step,
        key=key,
    )


def _record(run, result: PipelineResult) -> None:
    """Store on the pipeline run: each step's outcome, and its metrics as ``<step>.<metric>``."""
    summary = {
        name: {
            "status": s.status,
            "reason": s.reason,
            "run_id": s.run_id,
            "duration_s": round(s.duration_s, 3),
            "gate_failed": s.gate_failed,
        }
        for name, s in result.steps.items()
    }
    run.log_dict(summary, "pipeline.json")
    run.set_tags({f"nbmlops.step.{name}": s.status for name, s in result.steps.items()})
    metrics = {}
    for key, value in result.metrics.items():
        try:
            metrics[key] = float(value)
        except (TypeError, ValueError):
            continue
    if metrics:
        try:
            run.log_metrics(metrics)
        except NbmlopsError:  # a metric name too long once prefixed: log the rest one by one
            for key, value in metrics.items():
                try:
                    run.log_metric(key, value)
                except NbmlopsError:
                    pass


def _failure_message(result: PipelineResult) -> str:
    lines = [f"pipeline {result.name}: {len(result.failed)} step(s) failed"]
    for s in result.steps.values():
        if s.status == FAILED:
            kind = "gate failed" if s.gate_failed else "failed"
            lines.append(f"  {s.name} {kind}: {(s.error or s.reason).strip()}")
        elif s.status == NOT_RUN:
            lines.append(f"  {s.name}: {s.reason}")
    return "\n".join(lines)


def _progress(total: int, name: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=name, unit="step", leave=True)


def _report(bar, step: StepResult) -> None:
    if bar is None:
        return
    bar.update(1)
    if step.status == RAN:
        bar.write(f"{step.name}: ran in {step.duration_s:.1f}s")
    elif step.status == CACHED:
        bar.write(f"{step.name}: {step.reason}")
    else:
        bar.write(f"{step.name}: {step.status}: {step.reason}")


# -- showing -----------------------------------------------------------------------------------


def pipeline_status(
    path_or_spec: str | os.PathLike | Pipeline | Mapping,
    parameters: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Each step with its dependencies and cache state, without running anything.

    Columns: ``step, notebook, needs, inputs, outputs, state, reason, run_id``; ``state`` is
    ``cached``, ``will run`` or ``waits`` (an input that an upstream step has not written yet).
    """
    import pandas as pd

    from ..store import get_store

    pipeline = load(path_or_spec)
    params_of = step_parameters(pipeline, parameters)
    store = get_store()
    env_id = cache.environment_id()
    producers = pipeline.producers()
    will_run: set[str] = set()
    rows = []
    for name in pipeline.order():
        step = pipeline.steps[name]
        run_id = None
        absent = [i for i in step.inputs if not pipeline.resolve(i).exists()]
        if absent:
            writer = producers.get(absent[0])
            state = "waits" if writer else "missing input"
            reason = (
                f"input {absent[0]} is written by {writer}, which has not run yet"
                if writer
                else f"input {absent[0]} does not exist"
            )
            will_run.add(name)
        else:
            key = cache.step_key(pipeline, step, params_of[name], env_id)
            decision = cache.lookup(store, pipeline, step, key)
            upstream = sorted(pipeline.upstream(name) & will_run)
            run_id = decision.run_id
            if decision.cached and upstream:
                state = "cached"
                reason = f"{decision.reason} (checked again after {', '.join(upstream)} run)"
            elif decision.cached:
                state, reason = "cached", decision.reason
            else:
                state, reason = "will run", decision.reason
                will_run.add(name)
        rows.append(
            {
                "step": name,
                "notebook": step.notebook,
                "needs": ", ".join(step.needs),
                "inputs": ", ".join(step.inputs),
                "outputs": ", ".join(step.outputs),
                "state": state,
                "reason": reason,
                "run_id": run_id,
            }
        )
    return pd.DataFrame(
        rows,
        columns=["step", "notebook", "needs", "inputs", "outputs", "state", "reason", "run_id"],
    )


def steps_json(result: PipelineResult) -> str:
    """The result as JSON (for ``nbmlops pipeline run --json``)."""
    return json.dumps(
        {
            "name": result.name,
            "run_id": result.run_id,
            "status": result.status,
            "duration_s": round(result.duration_s, 3),
            "steps": {
                n: dataclasses.asdict(s) | {"metrics": dict(s.metrics)}
                for n, s in result.steps.items()
            },
        },
        indent=2,
        default=str,
    )
