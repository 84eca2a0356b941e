"""Every tab of the panel over a messy workspace: model versions without a run, runs without
metrics, one param holding int, float, str, None and a list, a FAILED run, and the artifact
folder deleted. Nothing raises; what cannot be read says so inside the tab. And a refresh
that fails never prints under the next cell (IPython's "Error in callback").

Run on pandas 3 (the main interpreter, where a missing string is NaN) and pandas 2
(``/work/venv-pd2/bin/python -m pytest tests/widgets/test_robustness.py``).
"""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pandas as pd
import pytest

import nbmlops
from nbmlops.widgets import Panel

MIXED = [1, 2.5, "abc", None, [1, 2]]


@pytest.fixture
def messy(workspace):
    """The workspace described above; returns the run ids by name."""
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True, as_frame=True)
    ids = {}
    for i, value in enumerate(MIXED):
        with nbmlops.start_run(name=f"mixed-{i}", experiment="messy") as run:
            run.log_param("p", value)
            if i % 2:  # runs 0, 2, 4 log no metric at all
                run.log_metric("acc", 0.5 + i / 10)
            run.log_text("note", "note.txt")
            ids[f"mixed-{i}"] = run.run_id
    with nbmlops.start_run(name="trained", experiment="models") as run:
        for step in range(3):
            run.log_metric("loss", 1 / (step + 1), step=step)
        run.log_metric("acc", 0.9)
        nbmlops.register_model(DecisionTreeClassifier(max_depth=2).fit(X, y), "iris", run=run)
        ids["trained"] = run.run_id
    nbmlops.promote("iris", 1, reason="first")
    nbmlops.register_model(DecisionTreeClassifier(max_depth=1).fit(X, y), "iris")  # no run
    nbmlops.register_model(DecisionTreeClassifier(max_depth=1).fit(X, y), "lonely")
    with pytest.raises(ValueError), nbmlops.start_run(name="boom", experiment="messy") as run:
        run.log_param("p", 3)
        ids["boom"] = run.run_id
        raise ValueError("boom")
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"income": rng.normal(50, 10, 200)})
    nbmlops.drift_report(ref, ref.assign(income=ref.income + 20)).save(name="shifted")
    from nbmlops import Entity, FeatureView, Field, features

    features.apply(
        FeatureView("stats", Entity("customer", join_keys=["customer_id"]), [Field("x", "float64")])
    )
    shutil.rmtree(workspace / "artifacts")
    return ids


def test_every_tab_opens_and_refreshes(messy):
    versions = nbmlops.model_versions("iris")
    assert versions["run_id"].isna().tolist() == [False, True], "the case of the bug"
    panel = Panel()
    panel.refresh()
    assert panel.errors == {}

    # Runs: every run, the mixed param as text, the FAILED one with its badge.
    grid = panel.runs.grid
    assert panel.runs.page.total == 7
    column = grid.shown_columns.index("params.p")
    names = list(panel.runs.page.frame["name"])
    texts = {n: row["cells"][column] for n, row in zip(names, grid.rows, strict=True)}
    assert [texts[f"mixed-{i}"] for i in range(5)] == ["1", "2.5", "abc", "—", "[1, 2]"]
    status = grid.shown_columns.index("status")
    assert grid.rows[names.index("boom")]["cells"][status] == "FAILED"
    panel.runs.experiment.value = "messy"
    assert panel.runs.page.total == 6

    # Models: the version without a run shows a dash, not a crash; both models listed.
    models = panel.models
    assert list(models.model.options) == ["iris", "lonely"]
    assert "<b>v2</b>" in models.versions.value and "production" in models.versions.value
    assert "nan" not in models.versions.value.lower()
    models.version.value = 1
    models.model.value = "lonely"
    assert "<b>v1</b>" in models.versions.value

    # Features and Reports list what there is; the report whose files are gone says so.
    assert "stats" in panel.features.listing.value
    assert "shifted" in panel.reports.listing.value
    panel.reports.open_report(panel.reports.report.value)
    assert panel.reports.opened is None and "is missing from" in panel.reports.message.value

    # Static HTML of the whole panel.
    bundle = panel._repr_mimebundle_()
    assert "mixed-4" in bundle["text/html"] and "lonely" in bundle["text/html"]


def test_compare_runs_with_mixed_params_and_missing_metrics(messy):
    panel = Panel()
    run_ids = [messy[n] for n in ("mixed-0", "mixed-1", "mixed-2", "mixed-4", "boom")]
    panel.show_comparison(run_ids)
    view = panel.compare
    assert panel.selected_index == 1 and view.comparison is not None
    assert "Comparing 5 runs" in view.header.value
    assert "abc" in view.tables.value and "[1, 2]" in view.tables.value
    # The package lists were in the deleted artifact folder: said where they would be.
    assert "unreadable" in view.environment.value
    assert [t.type for t in view.history.data] == ["bar"] * 5  # acc: one value per run
    assert list(view.parallel.layout.xaxis.ticktext) == ["p", "acc"]
    assert "left out" in view.parallel.layout.title.text  # runs without acc
    runs_without_metrics = [messy["mixed-0"], messy["mixed-2"]]
    panel.show_comparison(runs_without_metrics)
    assert view.history is None and view.parallel is None
    assert [r.run_id for r in view.comparison.runs] == runs_without_metrics


def test_a_failing_refresh_prints_nothing_and_shows_in_the_panel(shell, capsys):
    """The bug: with pandas 3, a model with one version from a run and one without made the
    panel's refresh raise TypeError; IPython printed "Error in callback" under every later
    cell and the panel stopped refreshing."""
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True, as_frame=True)
    assert shell.run_cell("import nbmlops\npanel = nbmlops.panel()").success
    panel = shell.user_ns["panel"]
    try:
        with nbmlops.start_run(name="fit") as run:
            nbmlops.register_model(DecisionTreeClassifier().fit(X, y), "iris", run=run)
        nbmlops.register_model(DecisionTreeClassifier(max_depth=1).fit(X, y), "iris")
        capsys.readouterr()
        assert shell.run_cell("%%track --quiet\naccuracy = round(0.5 + 0.25, 2)").success
        assert shell.run_cell("x = 1").success
        out = capsys.readouterr()
        assert "Error in callback" not in out.out + out.err
        assert "Traceback" not in out.out + out.err
        assert panel.errors == {}
        assert panel.runs.page.total == 2 and "<b>v2</b>" in panel.models.versions.value

        # A store that breaks under the panel (a table renamed away): the refresh fails,
        # the tab says why, nothing is printed, the other tabs still refresh.
        db = nbmlops.get_settings().store_url.removeprefix("sqlite:///")
        rename = "import sqlite3\nsqlite3.connect({!r}).execute('ALTER TABLE {} RENAME TO {}')"
        shell.run_cell(rename.format(db, "drift_reports", "drift_reports_away")).raise_error()
        capsys.readouterr()
        assert shell.run_cell("%%track --quiet\naccuracy = round(0.5 + 0.5, 2)").success
        out = capsys.readouterr()
        assert out.out + out.err == ""
        assert set(panel.errors) == {"Reports"}
        assert "drift_reports" in panel.reports.message.value
        assert panel.runs.page.total == 3, "the Runs tab refreshed all the same"
        shell.run_cell(rename.format(db, "drift_reports_away", "drift_reports")).raise_error()
        assert panel.errors == {} and panel.reports.message.value == ""
    finally:
        panel.unwatch()


def test_refresh_after_cells_that_use_nbmlops(shell):
    assert shell.run_cell("import nbmlops\npanel = nbmlops.panel()").success
    panel = shell.user_ns["panel"]
    try:
        with nbmlops.start_run(name="outside"):
            pass
        assert shell.run_cell("y = 2").success
        assert panel.runs.page.total == 0, "a cell that does not use nbmlops reads nothing"
        assert shell.run_cell("nbmlops.runs()").success
        assert panel.runs.page.total == 1
    finally:
        panel.unwatch()


def test_models_tab_after_every_version_is_gone(workspace):
    """A model whose versions table is empty (all deleted) does not break the tab."""
    from nbmlops.widgets import ModelsPanel

    panel = ModelsPanel()
    assert panel.model.value is None and panel.version.value is None
    db = nbmlops.get_settings().store_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO registered_models (name, created_at) VALUES ('empty', 0)")
    panel.refresh()
    assert panel.model.value == "empty" and panel.version.value is None
    assert panel.message.value == ""
