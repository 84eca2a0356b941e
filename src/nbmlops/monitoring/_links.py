"""What a saved report or expectation suite is linked to: a run (default: the active run) and
a model version."""

from __future__ import annotations

from typing import Any

from ..errors import MonitoringError


def run_id_of(store, run) -> str | None:
    """The id of ``run`` (a ``Run``, an id or a unique prefix; None: the active run, if any)."""
    from ..tracking._active import active_run
    from ..tracking.run import Run

    if run is None:
        active = active_run()
        return active.run_id if active is not None else None
    if isinstance(run, Run):
        return run.run_id
    if isinstance(run, str):
        return store.meta.resolve_run_id(run)
    raise MonitoringError(f"run= takes a Run or a run id, got {type(run).__name__}")


def model_version_of(model: Any) -> tuple[str | None, int | None]:
    """``(name, version)`` of ``model`` (a ``ModelVersion`` or ``models:/`` URI), or Nones."""
    if model is None:
        return None, None
    from ..registry import ModelVersion, get_model

    mv = model if isinstance(model, ModelVersion) else get_model(model)
    return mv.name, mv.version
