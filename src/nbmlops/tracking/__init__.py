"""Run tracking: the active-run stack, logging functions, run queries and cell capture.

>>> import nbmlops
>>> with nbmlops.start_run(name="baseline") as run:  # doctest: +SKIP
...     nbmlops.log_params({"C": 0.5})
...     nbmlops.log_metric("accuracy", 0.95)
"""

from ._active import (
    ActiveRun,
    active_run,
    end_run,
    log_artifact,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_output,
    log_param,
    log_params,
    log_text,
    set_tag,
    set_tags,
    start_run,
)
from .fingerprint import Fingerprint, fingerprint
from .query import experiments, get_run, runs
from .run import Run

__all__ = [
    "ActiveRun",
    "Fingerprint",
    "Run",
    "active_run",
    "end_run",
    "experiments",
    "fingerprint",
    "get_run",
    "log_artifact",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_output",
    "log_param",
    "log_params",
    "log_text",
    "runs",
    "set_tag",
    "set_tags",
    "start_run",
]
