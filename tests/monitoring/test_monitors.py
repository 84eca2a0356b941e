"""Monitors: windows, checks, alerts with their context, history, timeline, CLI and magic."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import nbmlops
from nbmlops.cli import main
from nbmlops.errors import InvalidCheck, MonitorNotFound
from nbmlops.monitoring.checks import parse_check

from ._loop import DAY0, register, traffic

CHECKS = ["psi > 0.25 on income", "f1 drops by more than 0.05", "dataset_drift"]


def _week(n: int) -> pd.Timestamp:
    return DAY0 + pd.Timedelta(days=7 * n)


def test_alert_names_the_drifted_columns_and_segments(backend: str, workspace: Path):
    register()
    traffic("churn", range(14), shift_from=7)
    watch = nbmlops.monitor("churn", window="7d", checks=CHECKS, segments=["site"])

    quiet = watch.run(at=_week(1))
    assert quiet.status == "ok" and quiet.rows == 7 * 60 and not quiet.checks["alert"].any()
    assert quiet.labelled == 6 * 60  # the last day's labels arrive the day after

    loud = watch.run(at=_week(2))
    assert loud.alerted and loud.model_version == 1
    alert = nbmlops.get_alert(loud.alert_id)
    context = alert["context"]
    assert [d["column"] for d in context["drifted"] if d["role"] == "feature"] == ["income"]
    income = context["drifted"][0]
    assert income["psi"] > 0.25
    assert (income["top_segments"][0]["segment"], income["top_segments"][0]["value"]) == (
        "site",
        "east",
    )
    fired = {c["check"]: c for c in context["checks"]}
    assert fired["psi > 0.25 on income"]["columns"] == ["income"]
    assert "income driven by site=east" in alert["summary"]
    assert context["report_id"] == loud.report_id
    assert Path(context["report_html"]).read_text().startswith("<!DOCTYPE html>")
    assert nbmlops.load_drift_report(loud.report_id).drifted_columns == ["income"]
    assert context["metrics"]["f1"] < context["baseline"]["f1"] - 0.05
    assert "f1 drops by more than 0.05" in fired

    history = watch.history()
    assert list(history["status"]) == ["ok", "alert"]
    assert history["alert"].notna().tolist() == [False, True]
    assert "metrics.f1" in history.columns
    listed = nbmlops.alerts(monitor="churn")
    assert list(listed["drifted_columns"]) == ["income, prediction"]  # the output moved too
    assert list(listed["retrain_status"]) == ["none"]
    # The id as read from the table is a numpy integer: get_alert takes it as it is.
    assert nbmlops.get_alert(listed["alert_id"].iloc[0])["summary"] == alert["summary"]
    figure = watch.timeline()
    assert {t.name for t in figure.data} >= {"drift share", "f1", "alert"}


def test_for_n_windows_waits_for_consecutive_windows(workspace: Path):
    register()
    traffic("churn", range(3), shift_from=1)
    watch = nbmlops.monitor("churn", window="1d", checks=["psi > 0.25 on income for 2 windows"])
    day = [watch.run(at=DAY0 + pd.Timedelta(days=d + 1)) for d in range(3)]
    assert [r.status for r in day] == ["ok", "ok", "alert"]
    assert day[1].checks.loc[0, "held"]
    assert "held 1 of the 2 consecutive windows" in day[1].checks.loc[0, "detail"]


def test_empty_window_and_missing_reference(workspace: Path):
    from sklearn.linear_model import LogisticRegression

    from ._loop import dataset

    register()
    assert nbmlops.monitor("churn", window="1d").run(at=DAY0).status == "no_data"
    X, y = dataset(100)
    bare = nbmlops.register_model(LogisticRegression().fit(X[["income"]], y), "bare")
    bare.promote()
    nbmlops.score("models:/bare@production", X, at=DAY0)
    watch = nbmlops.monitor("bare", window="1d")
    with pytest.raises(nbmlops.MonitoringError, match="reference=X_train"):
        watch.run(at=DAY0 + pd.Timedelta(hours=1))
    nbmlops.monitor("bare", window="1d", reference=X)  # the monitor's reference then serves
    assert nbmlops.get_monitor("bare").run(at=DAY0 + pd.Timedelta(hours=1)).status == "ok"
    with pytest.raises(MonitorNotFound, match="saved: bare, churn"):
        nbmlops.get_monitor("nope")


def test_cli_exit_codes_and_magic(workspace: Path, shell):
    register()
    traffic("churn", range(14), shift_from=7)
    nbmlops.monitor("churn", window="7d", checks=CHECKS, segments=["site"])
    runner = CliRunner()
    ok = runner.invoke(main, ["monitor", "run", "churn", "--at", "2024-01-08"])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output
    alert = runner.invoke(main, ["monitor", "run", "churn", "--at", "2024-01-15"])
    assert alert.exit_code == 1, alert.output
    assert "ALERT" in alert.output and "report:" in alert.output
    missing = runner.invoke(main, ["monitor", "run", "nope"])
    assert missing.exit_code == 2 and "no monitor named 'nope'" in missing.output
    listed = runner.invoke(main, ["monitor", "ls"])
    assert listed.exit_code == 0 and "churn" in listed.output
    assert runner.invoke(main, ["monitor", "history", "churn"]).exit_code == 0
    assert "income" in runner.invoke(main, ["monitor", "alerts"]).output

    result = shell.run_line_magic("monitor", "churn --at 2024-01-15")
    assert result.alerted
    assert len(shell.run_line_magic("monitor", "churn --history")) == 3
    assert list(shell.run_line_magic("monitor", "")["name"]) == ["churn"]


def test_bad_monitor_definitions(workspace: Path):
    register()
    with pytest.raises(InvalidCheck, match="unknown measure 'psy'"):
        nbmlops.monitor("churn", checks=["psy > 0.2"])
    with pytest.raises(InvalidCheck, match="'on COLUMN' goes with"):
        nbmlops.monitor("churn", checks=["f1 < 0.5 on income"])
    with pytest.raises(nbmlops.MonitoringError, match="window is a duration"):
        nbmlops.monitor("churn", window="soon")
    with pytest.raises(nbmlops.MonitoringError, match="holdout"):
        nbmlops.monitor("churn", holdout=1.5)
    assert nbmlops.monitors().empty


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_a_check_or_a_clear_error(text):
    try:
        check = parse_check(text)
    except InvalidCheck as exc:
        assert "monitor check" in str(exc)
        return
    assert check.windows >= 1


@pytest.mark.parametrize(
    "text, stat, op, value, column, windows",
    [
        ("psi > 0.25 on income", "psi", ">", 0.25, "income", 1),
        ("PSI >= .3 on `monthly income` for 2 windows", "psi", ">=", 0.3, "monthly income", 2),
        ("f1 drops by more than 0.05", "f1", "drop", 0.05, None, 1),
        ("rmse rises by more than 2 for 3 windows", "rmse", "rise", 2.0, None, 3),
        ("dataset_drift", "dataset_drift", "flag", 1.0, None, 1),
        ("drift_share >= 0.5", "drift_share", ">=", 0.5, None, 1),
    ],
)
def test_check_grammar(text, stat, op, value, column, windows):
    check = parse_check(text)
    assert (check.stat, check.op, check.value, check.column, check.windows) == (
        stat,
        op,
        value,
        column,
        windows,
    )
