"""``DriftReport``: serialization, escaped standalone HTML, saving in the workspace, display."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import nbmlops
from nbmlops.errors import MonitoringError
from nbmlops.monitoring import DriftReport

EVIL = "<script>alert(1)</script>"


def shifted_frames(n=3000, seed=1):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame(
        {
            EVIL: rng.normal(size=n),
            "plan": rng.choice(["basic", "<img src=x onerror=alert(2)>", "pro"], n),
            "segment": rng.choice(["a&b", "c"], n),
        }
    )
    cur = ref.copy()
    cur[EVIL] = rng.normal(1.0, 1.0, n)
    return ref, cur


def _without_plotly_js(page: str) -> str:
    # The embedded plotly.js bundle legitimately contains "<script" strings of its own.
    return re.sub(r"<script>/\*\*\n\* plotly\.js.*?</script>", "", page, flags=re.S)


def test_html_escapes_every_user_string(tmp_path):
    ref, cur = shifted_frames()
    report = nbmlops.drift_report(ref, cur, segments=["segment"])
    assert report.drifted_columns == [EVIL]
    assert report.to_html(tmp_path / "report.html") is None
    page = (tmp_path / "report.html").read_text()
    body = _without_plotly_js(page)
    assert EVIL not in body
    assert "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # in the summary table
    # In the figure data the name is HTML-escaped, then '&', '<' and '>' are JSON escapes, so
    # nothing in it can close the script element.
    assert "\\u0026lt;script\\u0026gt;" in body
    assert "a&amp;b" in body or "a\\u0026amp;b" in body
    for cdn_page in (report.to_html(plotlyjs="cdn"),):
        assert EVIL not in cdn_page
        assert "https://cdn.plot.ly/plotly-basic-" in cdn_page
    with pytest.raises(MonitoringError, match="inline"):
        report.to_html(plotlyjs="sometimes")


def test_inline_html_is_standalone_and_cdn_html_is_small(tmp_path):
    ref, cur = shifted_frames()
    report = nbmlops.drift_report(ref, cur)
    inline = report.to_html()
    assert "plotly.js (basic - minified)" in inline
    assert '<script src="https://cdn.plot.ly' not in inline
    assert inline.count("plotly.js (basic - minified)") == 1
    assert len(report.to_html(plotlyjs="cdn")) < 200_000 < len(inline) < 2_000_000
    assert "Plotly.newPlot('nbmlops-drift-figure'" in inline


def test_json_round_trip_keeps_everything(tmp_path):
    ref, cur = shifted_frames()
    report = nbmlops.drift_report(ref, cur, segments=["segment"])
    text = report.to_json()
    assert "NaN" not in text  # standard JSON
    assert report.to_json(tmp_path / "r.json") is None
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["drifted_columns"] == [EVIL]
    again = DriftReport.from_json(text)
    assert again.drifted_columns == report.drifted_columns
    assert again.dataset_drift == report.dataset_drift
    pd.testing.assert_frame_equal(
        again.summary.drop(columns=["p_value", "p_adjusted"]),
        report.summary.drop(columns=["p_value", "p_adjusted"]),
    )
    assert again.explain() == report.explain()


def test_saved_reports_are_listed_loaded_and_linked(workspace):
    ref, cur = shifted_frames()
    X = ref[[EVIL]].rename(columns={EVIL: "x"})
    from sklearn.linear_model import LinearRegression

    mv = nbmlops.register_model(LinearRegression().fit(X, np.arange(len(X))), "lr")
    with nbmlops.start_run(name="monitor") as run:
        report = nbmlops.drift_report(ref, cur)
        report_id = report.save(name="weekly", model=mv.uri)
    assert report.report_id == report_id
    listed = nbmlops.drift_reports()
    assert listed.loc[0, "report_id"] == report_id
    assert listed.loc[0, "name"] == "weekly" and listed.loc[0, "run_id"] == run.run_id
    assert listed.loc[0, "model"] == "lr/1" and listed.loc[0, "drifted"] == "1/3"
    assert listed.loc[0, "dataset_drift"] == False  # noqa: E712 - numpy bool
    assert list(nbmlops.drift_reports(model="lr")["report_id"]) == [report_id]
    assert nbmlops.drift_reports(model="other").empty
    loaded = nbmlops.load_drift_report(report_id[:10])
    assert loaded.drifted_columns == [EVIL]
    assert set(run.artifacts) >= {"drift/weekly.json", "drift/weekly.html"}
    from nbmlops.monitoring import drift_report_html

    assert drift_report_html(report_id).startswith("<!DOCTYPE html>")
    with pytest.raises(MonitoringError, match="no drift report"):
        nbmlops.load_drift_report("ffffffff")


def test_displays(workspace):
    ref, cur = shifted_frames()
    report = nbmlops.drift_report(ref, cur, segments=["segment"])
    assert repr(report).startswith("<DriftReport no dataset drift: 1 of 3 columns drifted")
    html = report._repr_html_()
    assert "<table" in html and EVIL not in html
    figure = report.figure()
    assert len(figure.data) == 5 * 3
    assert [b.label for b in figure.layout.updatemenus[0].buttons][0].startswith("● ")
    assert sum(bool(t.visible) for t in figure.data) == 5  # one column shown at a time


def test_report_display_in_a_real_shell(shell):
    shell.user_ns["ref"], shell.user_ns["cur"] = shifted_frames()
    result = shell.run_cell("import nbmlops\nnbmlops.drift_report(ref, cur)")
    assert result.success
    assert isinstance(result.result, DriftReport)


def test_writing_to_a_path_returns_none_so_a_notebook_cell_shows_nothing(tmp_path):
    # docs/monitoring.md ends a cell with report.to_html("drift.html"): returning the page
    # made the notebook print 1.2 MB of HTML under it. As in pandas, writing returns None.
    ref, cur = shifted_frames()
    report = nbmlops.drift_report(ref, cur)
    assert report.to_html(tmp_path / "a.html") is None
    assert report.to_json(tmp_path / "a.json") is None
    assert (tmp_path / "a.html").read_text() == report.to_html()
    assert (tmp_path / "a.json").read_text() == report.to_json()
