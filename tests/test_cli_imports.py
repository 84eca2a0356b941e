"""The command line answers fast because each command imports only what it needs: help,
usage errors and bad input never import pandas, SQLAlchemy or jsonschema, and ``runs ls``
never imports pandas. Checked on ``sys.modules`` of a fresh process, not on timings."""

from __future__ import annotations

import json

import pytest

import nbmlops

from ._cli_imports import run_cli

NEVER_FOR_HELP = {"pandas", "sqlalchemy", "jsonschema", "nbformat", "papermill", "IPython"}


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["runs", "--help"],
        ["models", "delete", "--help"],
        ["pipeline", "run", "--help"],
        ["import", "mlflow", "--help"],
        ["export", "mlflow", "--help"],
    ],
    ids=lambda a: " ".join(a),
)
def test_help_imports_nothing_heavy(workspace, args):
    done, imported = run_cli(workspace, *args)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    assert not imported & NEVER_FOR_HELP, imported


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["runs", "ls", "--bogus"], 2, "No such option"),
        (["runs", "ls", "--limit", "-1"], 2, "--limit"),
        (["models", "delete", "iris"], 2, "Missing argument"),
        (["nope"], 2, "No such command"),
        (["run"], 1, "Missing argument"),
        (["run", "missing.ipynb"], 1, "no notebook at 'missing.ipynb'"),
        (["pipeline", "run", "missing.yaml"], 1, "does not exist"),
        (["sweep", "missing.ipynb", "-g", "a=1,2"], 1, "is not an existing .ipynb"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_usage_errors_and_missing_files_import_nothing_heavy(
    workspace, tmp_path, args, code, message
):
    done, imported = run_cli(workspace, *args, cwd=tmp_path)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    # sweep checks its notebook after reading the store's settings: SQLAlchemy is allowed there.
    allowed = {"sqlalchemy"} if args[0] == "sweep" else set()
    assert not imported & (NEVER_FOR_HELP - allowed), imported


def test_runs_ls_shows_params_and_keeps_integers_without_pandas(workspace):
    for i, (n_estimators, C) in enumerate([(50, 0.5), (100, 1.0), (200, 0.25)]):
        with nbmlops.start_run(name=f"rf-{i}"):
            nbmlops.log_params({"n_estimators": n_estimators, "C": C, "criterion": "gini"})
            nbmlops.log_metric("f1", 0.8 + i / 100)
    with nbmlops.start_run(name="no-params"):
        nbmlops.log_metric("f1", 0.7)

    done, imported = run_cli(workspace, "runs", "ls")
    assert done.returncode == 0, done.stderr
    assert not imported & {"pandas", "numpy", "jsonschema", "nbformat", "IPython"}, imported
    header, *rows = done.stdout.splitlines()
    assert header.split()[:6] == [
        "run_id",
        "experiment",
        "name",
        "status",
        "start_time",
        "duration_s",
    ]
    assert "params.n_estimators" in header and "params.C" in header and "metrics.f1" in header
    by_name = {row.split()[2]: row for row in rows}
    assert set(by_name) == {"rf-0", "rf-1", "rf-2", "no-params"}
    # Integers stay integers (never 50.0), the floats of a column share one precision.
    assert " 50 " in by_name["rf-0"] and "50.0" not in done.stdout
    assert "0.50" in by_name["rf-0"] and "1.00" in by_name["rf-1"] and "0.25" in by_name["rf-2"]
    assert "gini" in by_name["rf-0"]

    as_json, _ = run_cli(workspace, "runs", "ls", "--json")
    records = {r["name"]: r for r in json.loads(as_json.stdout)}
    assert records["rf-0"]["params.n_estimators"] == 50
    assert isinstance(records["rf-0"]["params.n_estimators"], int)
    assert records["no-params"]["params.n_estimators"] is None

    # A filter or an order needs pandas, and gives the same kind of table.
    ordered, imported = run_cli(
        workspace, "runs", "ls", "-o", "params.n_estimators DESC", "-f", "metrics.f1 > 0.75"
    )
    assert ordered.returncode == 0, ordered.stderr
    names = [row.split()[2] for row in ordered.stdout.splitlines()[1:]]
    assert names == ["rf-2", "rf-1", "rf-0"]
    assert " 200 " in ordered.stdout and "200.0" not in ordered.stdout


def test_runs_ls_hides_captured_estimator_params_by_default(workspace):
    with nbmlops.start_run(name="tracked"):
        nbmlops.log_params(
            {
                "depth": 8,
                "model.class": "sklearn.ensemble.RandomForestClassifier",
                "model.n_estimators": 100,
            }
        )
    done, _ = run_cli(workspace, "runs", "ls")
    assert "params.depth" in done.stdout and "params.model" not in done.stdout
    chosen, _ = run_cli(workspace, "runs", "ls", "-c", "name,params.model.n_estimators")
    assert chosen.stdout.split() == ["name", "params.model.n_estimators", "tracked", "100"]
