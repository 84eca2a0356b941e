"""Notebook pipelines: tracked, gated, reproducible papermill runs, DAGs of notebooks, sweeps.

- :func:`run_notebook` executes one notebook with parameters (papermill) and records it as a
  run; the notebook's ``%%track`` cells become child runs whose metrics roll up to it;
  ``gates`` and cells tagged ``nbmlops:gate`` decide whether it passed (:class:`PipelineRun`).
- :func:`reproduce` re-executes a recorded notebook run or tracked cell in a fresh kernel and
  says "reproduced" or exactly what differs (:class:`Reproduction`).
- :func:`run_pipeline` runs the steps of a ``pipeline.yaml`` with caching and parallel
  executors; :func:`sweep` runs a notebook over a parameter grid.

>>> import nbmlops
>>> result = nbmlops.run_notebook("train.ipynb", {"lr": 0.01}, gates=["metrics.f1 >= 0.8"])  # doctest: +SKIP
>>> nbmlops.reproduce(result.run_id)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use: a cached ``nbmlops pipeline run`` should not pay for papermill,
# nbformat's validator or pandas, which only executing a notebook needs.
_LAZY = {
    "Difference": ".reproduction",
    "Pipeline": ".spec",
    "PipelineResult": ".dag",
    "PipelineRun": ".result",
    "Reproduction": ".reproduction",
    "Step": ".spec",
    "StepResult": ".dag",
    "evaluate_gates": ".gates",
    "notebook_hash": "._prepare",
    "reproduce": ".reproduction",
    "run_notebook": ".notebook",
    "run_pipeline": ".dag",
    "sweep": ".sweeps",
    "validate_gates": ".gates",
    "write_junit": ".junit",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
