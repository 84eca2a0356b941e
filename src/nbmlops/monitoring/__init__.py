"""Monitoring: data expectations checked on new data, and drift reports that say what moved,
how much and where.

>>> import nbmlops
>>> expectations = nbmlops.expectations_from(train_df)  # doctest: +SKIP
>>> nbmlops.validate(new_df, expectations, raise_on_failure=True)  # doctest: +SKIP
>>> report = nbmlops.drift_report(train_df, new_df, segments=["country"])  # doctest: +SKIP
>>> report.explain()  # doctest: +SKIP

The loop in production: ``score`` logs predictions, ``log_labels`` adds ground truth late, a
``monitor`` checks each window, alerts and retrains (see docs/monitoring-loop.md).

>>> scored = nbmlops.score("models:/churn@production", todays_rows)  # doctest: +SKIP
>>> nbmlops.monitor("churn", window="7d", checks=["psi > 0.25 on income"]).run()  # doctest: +SKIP
"""

from ..predictions.log import log_labels, prediction_log
from .alerts import alerts, get_alert
from .drift import drift_report
from .expectations import (
    ColumnExpectation,
    Expectations,
    ValidationResult,
    expectations_from,
    load_expectations,
    validate,
)
from .monitors import Monitor, MonitorResult, get_monitor, monitor, monitors
from .report import DriftReport
from .saved import drift_report_html, drift_reports, load_drift_report
from .scoring import score, set_reference

__all__ = [
    "ColumnExpectation",
    "DriftReport",
    "Monitor",
    "MonitorResult",
    "Expectations",
    "ValidationResult",
    "drift_report",
    "drift_report_html",
    "drift_reports",
    "expectations_from",
    "load_drift_report",
    "load_expectations",
    "validate",
    "alerts",
    "get_alert",
    "get_monitor",
    "log_labels",
    "monitor",
    "monitors",
    "prediction_log",
    "score",
    "set_reference",
]
