"""Monitoring: data expectations checked on new data, and drift reports that say what moved,
how much and where.

>>> import nbmlops
>>> expectations = nbmlops.expectations_from(train_df)  # doctest: +SKIP
>>> nbmlops.validate(new_df, expectations, raise_on_failure=True)  # doctest: +SKIP
>>> report = nbmlops.drift_report(train_df, new_df, segments=["country"])  # doctest: +SKIP
>>> report.explain()  # doctest: +SKIP
"""

from .drift import drift_report
from .expectations import (
    ColumnExpectation,
    Expectations,
    ValidationResult,
    expectations_from,
    load_expectations,
    validate,
)
from .report import DriftReport
from .saved import drift_report_html, drift_reports, load_drift_report

__all__ = [
    "ColumnExpectation",
    "DriftReport",
    "Expectations",
    "ValidationResult",
    "drift_report",
    "drift_report_html",
    "drift_reports",
    "expectations_from",
    "load_drift_report",
    "load_expectations",
    "validate",
]
