"""The ``nbmlops`` command line, run as a real subprocess against a real workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbmlops
from nbmlops.store import SCHEMA_VERSION


def cli(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBMLOPS_")}
    env["NBMLOPS_HOME"] = str(workspace)
    return subprocess.run(
        [sys.executable, "-m", "nbmlops", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=480,  # a deadline against hangs, not an expected time: the machine may be busy
    )


def _two_runs() -> tuple[str, str]:
    with nbmlops.start_run(name="small") as a:
        nbmlops.log_params({"C": 0.1})
        nbmlops.log_metric("accuracy", 0.8)
    with nbmlops.start_run(name="large", experiment="other") as b:
        nbmlops.log_params({"C": 10})
        nbmlops.log_metric("accuracy", 0.95)
        nbmlops.log_text("note", "notes/readme.txt")
    return a.run_id, b.run_id


def test_runs_ls_shows_runs_newest_first_with_filter_and_json(workspace):
    small, large = _two_runs()
    out = cli(workspace, "runs", "ls")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:4] == ["run_id", "experiment", "name", "status"]
    assert large[:8] in lines[1] and small[:8] in lines[2]
    out = cli(workspace, "runs", "ls", "--filter", "metrics.accuracy > 0.9", "--json")
    records = json.loads(out.stdout)
    assert [r["run_id"] for r in records] == [large]
    out = cli(workspace, "runs", "ls", "-e", "other", "--json")
    assert [r["name"] for r in json.loads(out.stdout)] == ["large"]


def test_runs_show_prints_params_metrics_artifacts(workspace):
    _small, large = _two_runs()
    out = cli(workspace, "runs", "show", large[:7])
    assert out.returncode == 0, out.stderr
    assert large in out.stdout
    assert "C = 10" in out.stdout and "accuracy = 0.95" in out.stdout
    assert "notes/readme.txt" in out.stdout
    data = json.loads(cli(workspace, "runs", "show", large, "--json").stdout)
    assert data["params"] == {"C": 10} and data["status"] == "FINISHED"


def test_errors_are_messages_with_exit_code_2(workspace):
    _two_runs()
    out = cli(workspace, "runs", "show", "ffffffff")
    assert out.returncode == 2
    assert out.stderr.startswith("error: no run with id") and "Traceback" not in out.stderr
    out = cli(workspace, "runs", "ls", "--filter", "metrics.acuracy > 1")
    assert out.returncode == 2 and "did you mean metrics.accuracy" in out.stderr


def test_doctor_reports_workspace_counts_and_marks_stale_runs(workspace):
    _two_runs()
    nbmlops.configure(heartbeat_s=60)
    run = nbmlops.start_run(name="left-open")
    nbmlops.active_run()  # keep it open; simulate death by ageing its heartbeat
    from nbmlops.store import get_store

    get_store().meta.update_run(run.run_id, heartbeat_at=time.time() - 3600)
    out = cli(workspace, "doctor")
    assert out.returncode == 0, out.stderr
    assert str(workspace) in out.stdout
    assert f"schema         version {SCHEMA_VERSION}" in out.stdout
    assert "runs           3" in out.stdout
    assert f"1 marked KILLED now: {run.run_id[:8]}" in out.stdout
    assert nbmlops.get_run(run.run_id).status == "KILLED"
    run.end()  # our process is alive after all: ending records the real status
    assert nbmlops.get_run(run.run_id).status == "FINISHED"


def test_doctor_on_a_bad_store_url_explains(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBMLOPS_")}
    env.update(NBMLOPS_HOME=str(tmp_path), NBMLOPS_STORE_URL="notaurl")
    out = subprocess.run(
        [sys.executable, "-m", "nbmlops", "doctor"],
        capture_output=True,
        text=True,
        env=env,
        timeout=480,  # a deadline against hangs, not an expected time: the machine may be busy
    )
    assert out.returncode == 2
    assert "cannot parse store URL" in out.stderr and "Traceback" not in out.stderr


# -- models --------------------------------------------------------------------------------------


def _two_models() -> None:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True, as_frame=True)
    for depth, f1 in ((1, 0.6), (3, 0.95)):
        with nbmlops.start_run(name=f"depth-{depth}") as run:
            model = DecisionTreeClassifier(max_depth=depth).fit(X, y)
            nbmlops.log_metric("f1", f1)
        nbmlops.register_model(model, "iris", run=run, input_example=X)


def test_models_ls_show_promote_rollback_and_card(workspace, tmp_path):
    empty = cli(workspace, "models", "ls")
    assert empty.returncode == 0 and "no models yet" in empty.stdout
    _two_models()
    listed = cli(workspace, "models", "ls")
    assert listed.returncode == 0, listed.stderr
    assert "iris" in listed.stdout

    promoted = cli(workspace, "models", "promote", "iris", "1", "--reason", "first")
    assert promoted.returncode == 0, promoted.stderr
    assert "models:/iris/1 is now production" in promoted.stdout
    gated = cli(
        workspace,
        "models",
        "promote",
        "iris",
        "2",
        "-g",
        "metrics.f1 >= 0.9",
        "-g",
        "metrics.f1 >= champion.metrics.f1",
        "-r",
        "better",
    )
    assert gated.returncode == 0, gated.stderr
    assert nbmlops.get_model("iris").version == 2

    shown = cli(workspace, "models", "show", "iris", "--history")
    assert shown.returncode == 0, shown.stderr
    assert "production" in shown.stdout and "archived" in shown.stdout
    assert "better" in shown.stdout and "history" in shown.stdout
    as_json = json.loads(cli(workspace, "models", "show", "iris", "--json").stdout)
    assert [v["stage"] for v in as_json["versions"]] == ["archived", "production"]

    rolled = cli(workspace, "models", "rollback", "iris", "-r", "v2 misbehaves")
    assert rolled.returncode == 0, rolled.stderr
    assert "models:/iris/1 is production again" in rolled.stdout
    assert nbmlops.get_model("iris").version == 1

    card = cli(workspace, "models", "card", "iris@production", "--out", str(tmp_path / "c.html"))
    assert card.returncode == 0, card.stderr
    assert "Model card: iris v1" in (tmp_path / "c.html").read_text()
    markdown = cli(workspace, "models", "card", "models:/iris/2")
    assert markdown.stdout.startswith("# Model card: iris v2")
    doctor = cli(workspace, "doctor")
    assert "models         1 (2 versions)" in doctor.stdout


def test_models_cli_failures_exit_nonzero_with_the_reason(workspace):
    _two_models()
    nbmlops.promote("iris", 2)
    gate = cli(
        workspace, "models", "promote", "iris", "1", "-g", "metrics.f1 >= champion.metrics.f1"
    )
    assert gate.returncode == 1
    assert "[FAIL] metrics.f1 >= champion.metrics.f1" in gate.stderr
    assert nbmlops.get_model("iris").version == 2
    unknown = cli(workspace, "models", "show", "irs")
    assert unknown.returncode == 2 and "did you mean iris" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    nothing = cli(workspace, "models", "rollback", "iris")
    assert nothing.returncode == 2 and "nothing to roll back to" in nothing.stderr


def test_doctor_on_an_unreachable_database_explains(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBMLOPS_")}
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    env.update(
        NBMLOPS_HOME=str(tmp_path), NBMLOPS_STORE_URL="postgresql://nobody@127.0.0.1:1/nothing"
    )
    out = subprocess.run(
        [sys.executable, "-m", "nbmlops", "doctor"],
        capture_output=True,
        text=True,
        env=env,
        timeout=480,  # a deadline against hangs, not an expected time: the machine may be busy
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "cannot open the metadata store" in out.stderr
    assert "database server is running" in out.stderr
