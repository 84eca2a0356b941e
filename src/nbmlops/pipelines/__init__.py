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

from ._prepare import notebook_hash
from .dag import PipelineResult, StepResult, run_pipeline
from .gates import evaluate_gates, validate_gates
from .junit import write_junit
from .notebook import run_notebook
from .reproduce import Difference, Reproduction, reproduce
from .result import PipelineRun
from .spec import Pipeline, Step
from .sweep import sweep

__all__ = [
    "Difference",
    "Pipeline",
    "PipelineResult",
    "PipelineRun",
    "Reproduction",
    "Step",
    "StepResult",
    "evaluate_gates",
    "notebook_hash",
    "reproduce",
    "run_notebook",
    "run_pipeline",
    "sweep",
    "validate_gates",
    "write_junit",
]
