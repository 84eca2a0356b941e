"""The tracking API as users call it: run lifecycle, logging, lookups, tables and capture."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbmlops
from nbmlops.errors import (
    AmbiguousRunId,
    ExperimentNotFound,
    InvalidParam,
    NoActiveRun,
    RunNotFound,
)

BASE_COLUMNS = ["run_id", "experiment", "name", "status", "start_time", "duration_s"]


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    # git state is captured from the working directory; tests that want a repo make one.
    monkeypatch.chdir(tmp_path)


def _raise_in_helper() -> None:
    raise ValueError("boom from helper")


# -- lifecycle --------------------------------------------------------------------------------


def test_context_manager_ends_finished(backend):
    before = time.time()
    with nbmlops.start_run(name="ok") as run:
        assert nbmlops.active_run() == run
        assert run.status == "RUNNING"
        assert run.end_time is None
    after = time.time()
    assert nbmlops.active_run() is None
    assert run.status == "FINISHED"
    assert run.error is None
    assert before - 1 <= run.start_time <= run.end_time <= after + 1
    assert run.duration_s >= 0
    assert run.name == "ok"
    assert run.experiment == "default"


def test_exception_fails_run_with_traceback_and_propagates(backend):
    with (
        pytest.raises(ValueError, match="boom from helper") as info,
        nbmlops.start_run(name="bad") as run,
    ):
        nbmlops.log_metric("before", 1.0)
        _raise_in_helper()
    assert info.type is ValueError
    assert run.status == "FAILED"
    assert "Traceback (most recent call last)" in run.error
    assert "_raise_in_helper" in run.error
    assert "ValueError: boom from helper" in run.error
    assert run.metrics == {"before": 1.0}
    assert run.end_time is not None
    assert nbmlops.active_run() is None


def test_keyboard_interrupt_kills_run_and_propagates(backend):
    with pytest.raises(KeyboardInterrupt), nbmlops.start_run(name="interrupted") as run:
        nbmlops.log_metric("step", 3.0)
        raise KeyboardInterrupt
    assert run.status == "KILLED"
    assert "KeyboardInterrupt" in run.error
    assert run.metrics == {"step": 3.0}
    assert nbmlops.active_run() is None


def test_nested_runs_record_their_parent(backend):
    with nbmlops.start_run(name="outer") as outer:
        with nbmlops.start_run(name="inner") as inner:
            assert nbmlops.active_run() == inner
            with nbmlops.start_run(name="innermost") as innermost:
                nbmlops.log_metric("m", 1.0)
            assert nbmlops.active_run() == inner
        assert nbmlops.active_run() == outer
        nbmlops.log_metric("m", 2.0)
    assert outer.parent_run_id is None
    assert inner.parent_run_id == outer.run_id
    assert innermost.parent_run_id == inner.run_id
    assert innermost.metrics == {"m": 1.0}
    assert outer.metrics == {"m": 2.0}
    assert {r.status for r in (outer, inner, innermost)} == {"FINISHED"}


def test_ending_a_parent_ends_children_left_open(backend):
    with pytest.raises(RuntimeError), nbmlops.start_run(name="parent") as parent:
        child = nbmlops.start_run(name="child")  # never closed explicitly
        raise RuntimeError("parent failed")
    assert nbmlops.active_run() is None
    assert parent.status == "FAILED"
    assert child.status == "FAILED"
    assert child.parent_run_id == parent.run_id


def test_active_run_and_end_run(backend):
    assert nbmlops.active_run() is None
    run = nbmlops.start_run(name="manual")
    assert nbmlops.active_run() == run
    nbmlops.log_param("p", 1)
    nbmlops.end_run()
    assert nbmlops.active_run() is None
    assert run.status == "FINISHED"
    assert run.params == {"p": 1}

    second = nbmlops.start_run()
    nbmlops.end_run("FAILED")
    assert second.status == "FAILED"

    with pytest.raises(NoActiveRun):
        nbmlops.end_run()


def test_end_run_refuses_an_unknown_status(backend):
    run = nbmlops.start_run()
    with pytest.raises(InvalidParam):
        nbmlops.end_run("DONE")
    assert run.status == "RUNNING"
    assert nbmlops.active_run() == run
    nbmlops.end_run("killed")  # case does not matter
    assert run.status == "KILLED"


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (nbmlops.log_metric, ("acc", 0.5)),
        (nbmlops.log_metrics, ({"acc": 0.5},)),
        (nbmlops.log_param, ("C", 0.5)),
        (nbmlops.log_params, ({"C": 0.5},)),
        (nbmlops.set_tag, ("team", "risk")),
        (nbmlops.set_tags, ({"team": "risk"},)),
        (nbmlops.log_text, ("hello", "notes.txt")),
        (nbmlops.log_dict, ({"a": 1}, "a.json")),
        (nbmlops.log_input, (np.arange(3), "x")),
        (nbmlops.log_output, (np.arange(3), "y")),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_logging_without_an_active_run_is_no_active_run(backend, call, args):
    with pytest.raises(NoActiveRun, match="start_run"):
        call(*args)
    assert nbmlops.runs().empty  # nothing was created on the side


def test_log_artifact_without_an_active_run(backend, tmp_path: Path):
    path = tmp_path / "f.txt"
    path.write_text("x")
    with pytest.raises(NoActiveRun):
        nbmlops.log_artifact(path)
    with pytest.raises(RuntimeError):  # NoActiveRun is a RuntimeError as well
        nbmlops.log_metric("a", 1.0)


# -- metrics ----------------------------------------------------------------------------------


def test_tight_loop_of_100k_metrics_loses_nothing(backend):
    n = 100_000
    with nbmlops.start_run(name="tight") as run:
        started, cpu_started = time.perf_counter(), time.process_time()
        for i in range(n):
            nbmlops.log_metric("loss", 1.0 / (i + 1), step=i)
        logging_s = time.perf_counter() - started
    total_s = time.perf_counter() - started
    # CPU time of this process (the writer thread included): a busy machine stretches the
    # wall-clock time, not the work done.
    cpu_s = time.process_time() - cpu_started
    history = run.metric_history("loss")
    assert len(history) == n
    assert history["step"].tolist() == list(range(n))
    assert history["value"].iloc[-1] == 1.0 / n
    assert run.metrics == {"loss": 1.0 / n}
    print(f"{n} log_metric calls: {logging_s:.2f}s logging, {total_s:.2f}s until ended")
    assert cpu_s < 30


def test_metric_history_is_ordered_by_step(backend):
    steps = [5, 0, 9, 3, 3, 7, 1]
    with nbmlops.start_run() as run:
        for position, step in enumerate(steps):
            run.log_metric("loss", float(position), step=step)
            if position == 3:
                run.metrics  # noqa: B018 - flush part of the values in between
        run.log_metrics({"acc": 0.5, "f1": 0.25}, step=2)
    history = run.metric_history("loss")
    assert list(history.columns) == ["key", "step", "value", "timestamp"]
    assert history["step"].tolist() == sorted(steps)
    # Equal steps keep the order they were logged in.
    assert history.loc[history["step"] == 3, "value"].tolist() == [3.0, 4.0]
    assert str(history["timestamp"].dtype).startswith("datetime64")
    everything = run.metric_history()
    assert sorted(set(everything["key"])) == ["acc", "f1", "loss"]
    assert len(everything) == len(steps) + 2
    assert run.metric_history("nope").empty


def test_metric_explicit_timestamp_is_kept(backend):
    with nbmlops.start_run() as run:
        run.log_metric("x", 1.0, step=1, timestamp=1_700_000_000.5)
    stamp = run.metric_history("x")["timestamp"].iloc[0]
    assert stamp == pd.Timestamp(1_700_000_000.5, unit="s", tz="UTC")


# -- get_run ----------------------------------------------------------------------------------


def test_get_run_by_full_id_and_unique_prefix(backend):
    with nbmlops.start_run(name="target") as run:
        nbmlops.log_param("C", 0.5)
    with nbmlops.start_run(name="other"):
        pass
    found = nbmlops.get_run(run.run_id)
    assert found == run and found.name == "target" and found.params == {"C": 0.5}
    ids = [r for r in nbmlops.runs()["run_id"] if r != run.run_id]
    length = next(n for n in range(1, 33) if not any(o.startswith(run.run_id[:n]) for o in ids))
    prefix = run.run_id[:length]
    assert nbmlops.get_run(prefix).run_id == run.run_id
    assert nbmlops.get_run(prefix.upper()).run_id == run.run_id
    assert nbmlops.get_run(f"  {run.run_id[:12]} ").run_id == run.run_id


@pytest.mark.parametrize(
    "bad", ["0" * 32, "f" * 31 + "0", "not-hex", "g", "", "   ", "a" * 33, None, 42]
)
def test_get_run_unknown_id_is_run_not_found(backend, bad):
    with nbmlops.start_run():
        pass
    existing = nbmlops.runs()["run_id"].tolist()
    if isinstance(bad, str) and bad.strip() and any(r.startswith(bad) for r in existing):
        pytest.skip("the random run id happens to start with this prefix")
    with pytest.raises(RunNotFound) as info:
        nbmlops.get_run(bad)
    assert isinstance(info.value, KeyError)
    assert not isinstance(info.value, AmbiguousRunId)


def test_ambiguous_prefix_lists_the_matches(backend):
    by_first: dict[str, list[str]] = {}
    for _ in range(17):  # 16 hex digits: the 17th run at the latest shares a first digit
        with nbmlops.start_run() as run:
            pass
        by_first.setdefault(run.run_id[0], []).append(run.run_id)
        if len(by_first[run.run_id[0]]) == 2:
            break
    prefix, matches = next((k, v) for k, v in by_first.items() if len(v) == 2)
    with pytest.raises(AmbiguousRunId, match="more characters") as info:
        nbmlops.get_run(prefix)
    assert sorted(info.value.matches) == sorted(matches)
    assert isinstance(info.value, RunNotFound)
    for run_id in matches:  # the full ids still resolve
        assert nbmlops.get_run(run_id).run_id == run_id


# -- runs() table -----------------------------------------------------------------------------


def test_runs_of_an_empty_workspace_has_the_base_columns(backend):
    frame = nbmlops.runs()
    assert frame.empty
    assert list(frame.columns) == BASE_COLUMNS


def test_runs_columns_and_values(backend):
    with nbmlops.start_run(name="a", tags={"team": "risk"}) as first:
        nbmlops.log_params({"C": 0.5, "kernel": "rbf"})
        nbmlops.log_metric("acc", 0.9)
    time.sleep(0.01)
    with nbmlops.start_run(name="b") as second:
        nbmlops.log_params({"alpha": 1})
        nbmlops.log_metrics({"loss": 0.1, "acc": 0.8})
        nbmlops.set_tags({"stage": "dev", "team": "growth"})
    frame = nbmlops.runs()
    columns = list(frame.columns)
    assert columns[:6] == BASE_COLUMNS
    rest = columns[6:]
    groups = [c.split(".", 1)[0] for c in rest]
    assert groups == sorted(groups, key=["params", "metrics", "tags"].index)
    assert set(rest) == {
        "params.C",
        "params.kernel",
        "params.alpha",
        "metrics.acc",
        "metrics.loss",
        "tags.team",
        "tags.stage",
    }

    assert frame["run_id"].tolist() == [second.run_id, first.run_id]  # newest first
    a = frame.iloc[1]
    assert (a["experiment"], a["name"], a["status"]) == ("default", "a", "FINISHED")
    assert (a["params.C"], a["params.kernel"], a["metrics.acc"], a["tags.team"]) == (
        0.5,
        "rbf",
        0.9,
        "risk",
    )
    assert pd.isna(a["metrics.loss"]) and pd.isna(a["params.alpha"])
    b = frame.iloc[0]
    assert (b["params.alpha"], b["metrics.loss"], b["tags.team"]) == (1, 0.1, "growth")
    assert isinstance(frame["start_time"].dtype, pd.DatetimeTZDtype)
    assert abs(frame["start_time"].iloc[1].timestamp() - first.start_time) < 1e-3
    assert (frame["duration_s"] >= 0).all()
    assert frame["duration_s"].iloc[1] == pytest.approx(first.end_time - first.start_time)


def test_runs_experiment_argument(backend):
    with nbmlops.start_run(experiment="alpha", name="a1"):
        nbmlops.log_metric("only_in_alpha", 1.0)
    with nbmlops.start_run(experiment="alpha", name="a2"):
        pass
    with nbmlops.start_run(experiment="beta", name="b1"):
        nbmlops.log_param("only_in_beta", 1)
    alpha = nbmlops.runs(experiment="alpha")
    assert sorted(alpha["name"]) == ["a1", "a2"]
    assert set(alpha["experiment"]) == {"alpha"}
    assert "params.only_in_beta" not in alpha.columns
    beta = nbmlops.runs(experiment="beta")
    assert beta["name"].tolist() == ["b1"]
    assert "metrics.only_in_alpha" not in beta.columns
    assert len(nbmlops.runs()) == 3
    with pytest.raises(ExperimentNotFound):
        nbmlops.runs(experiment="gamma")
    frame = nbmlops.experiments()
    assert dict(zip(frame["name"], frame["runs"], strict=True)) == {"alpha": 2, "beta": 1}


def test_configured_experiment_is_the_default(backend):
    nbmlops.configure(experiment="from-configure")
    with nbmlops.start_run() as run:
        pass
    assert run.experiment == "from-configure"
    with nbmlops.start_run(experiment="explicit") as other:
        pass
    assert other.experiment == "explicit"


def test_tags_and_params_keep_their_types(backend):
    with nbmlops.start_run(tags={"n": 3, "flag": True}) as run:
        nbmlops.log_params(
            {
                "as_str": "0.5",
                "as_float": 0.5,
                "as_int": 2,
                "as_bool": False,
                "as_none": None,
                "as_list": [1, "a"],
                "as_dict": {"k": [1.5]},
            }
        )
    params = run.params
    assert params == {
        "as_str": "0.5",
        "as_float": 0.5,
        "as_int": 2,
        "as_bool": False,
        "as_none": None,
        "as_list": [1, "a"],
        "as_dict": {"k": [1.5]},
    }
    assert type(params["as_int"]) is int and type(params["as_bool"]) is bool
    assert run.tags == {"n": "3", "flag": "true"}


# -- inputs -----------------------------------------------------------------------------------


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": ["x", "y", "z"]})


def test_log_input_dataframe_fingerprint(backend):
    df = _frame()
    changed = df.copy()
    changed.loc[1, "b"] = 9.9
    renamed = df.rename(columns={"c": "d"})
    retyped = df.astype({"a": "float64"})
    reindexed = df.set_axis([10, 11, 12])
    with nbmlops.start_run() as run:
        nbmlops.log_input(df, "train")
        run.log_input(df.copy(), "train_copy")
        run.log_input(changed, "changed")
        run.log_input(renamed, "renamed")
        run.log_input(retyped, "retyped")
        run.log_input(reindexed, "reindexed")
    with nbmlops.start_run() as later:
        later.log_input(_frame(), "train")
    inputs = run.inputs
    train = inputs["train"]
    assert train["kind"] == "pandas.DataFrame"
    assert train["shape"] == (3, 3)
    assert train["schema"] == [(c, str(t)) for c, t in df.dtypes.items()]
    assert [c for c, _ in train["schema"]] == ["a", "b", "c"]
    assert train["schema"][:2] == [("a", "int64"), ("b", "float64")]
    assert len(train["digest"]) == 64
    assert train["digest"] == inputs["train_copy"]["digest"]
    assert train["digest"] == later.inputs["train"]["digest"]
    assert train["digest"] == nbmlops.fingerprint(df).digest
    others = {inputs[n]["digest"] for n in ("changed", "renamed", "retyped", "reindexed")}
    assert len(others) == 4 and train["digest"] not in others
    assert inputs["retyped"]["schema"][0] == ("a", "float64")
    assert run.outputs == {}


def test_log_input_series_and_ndarray(backend):
    series = pd.Series([1.0, 2.0, 3.0], name="target")
    array = np.arange(6, dtype="float64").reshape(2, 3)
    with nbmlops.start_run() as run:
        run.log_input(series, "y")
        run.log_input(series.copy(), "y_copy")
        run.log_input(series.rename("other"), "y_renamed")
        run.log_input(series.replace(2.0, 2.5), "y_changed")
        run.log_input(array, "X")
        run.log_input(array.copy(), "X_copy")
        bumped = array.copy()
        bumped[1, 2] += 1e-9
        run.log_input(bumped, "X_changed")
        run.log_input(array.reshape(3, 2), "X_reshaped")
        run.log_input(array.astype("float32"), "X_float32")
        nbmlops.log_output(array * 2, "predictions")
    inputs = run.inputs
    y = inputs["y"]
    assert (y["kind"], y["shape"], y["schema"]) == ("pandas.Series", (3,), [("target", "float64")])
    assert y["digest"] == inputs["y_copy"]["digest"]
    assert y["digest"] != inputs["y_renamed"]["digest"]
    assert y["digest"] != inputs["y_changed"]["digest"]
    x = inputs["X"]
    assert (x["kind"], x["shape"], x["schema"]) == (
        "numpy.ndarray",
        (2, 3),
        [("values", "float64")],
    )
    assert x["digest"] == inputs["X_copy"]["digest"]
    for name in ("X_changed", "X_reshaped", "X_float32"):
        assert inputs[name]["digest"] != x["digest"], name
    assert inputs["X_reshaped"]["shape"] == (3, 2)
    assert inputs["X_float32"]["schema"] == [("values", "float32")]
    assert set(run.outputs) == {"predictions"}
    assert "predictions" not in inputs


def test_log_input_refuses_other_types_and_records_nothing(backend):
    with nbmlops.start_run() as run, pytest.raises(InvalidParam, match="DataFrame"):
        run.log_input([1, 2, 3], "plain_list")
    assert run.inputs == {}


# -- environment, git, source -----------------------------------------------------------------


def test_environment_is_captured(backend):
    with nbmlops.start_run() as run:
        pass
    env = run.environment
    assert env["python"] == platform.python_version()
    assert env["implementation"] == platform.python_implementation()
    assert env["platform"]
    assert f"pandas=={importlib.metadata.version('pandas')}" in env["packages"]
    assert f"numpy=={importlib.metadata.version('numpy')}" in env["packages"]
    assert any(p.startswith("nbmlops==") for p in env["packages"])
    assert env["host"]
    with nbmlops.start_run() as second:
        pass
    assert second.info["env_id"] == run.info["env_id"]  # stored once per environment


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_git_state_is_captured_with_the_diff_of_a_dirty_tree(backend, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("alpha = 1\nepochs = 10\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "initial")
    head = _git(repo, "rev-parse", "HEAD")
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")

    (repo / "untracked.txt").write_text("not part of the repository")
    with nbmlops.start_run(name="clean") as clean:
        pass
    assert clean.git == {"commit": head, "branch": "main", "dirty": False}
    assert "git.diff" not in clean.artifacts

    (repo / "train.py").write_text("alpha = 2\nepochs = 10\n")
    with nbmlops.start_run(name="dirty") as dirty:
        pass
    assert dirty.git == {"commit": head, "branch": "main", "dirty": True}
    assert "git.diff" in dirty.artifacts
    diff = dirty.read_text("git.diff")
    assert "train.py" in diff
    assert "-alpha = 1" in diff and "+alpha = 2" in diff
    assert "untracked" not in diff


def test_outside_a_git_repository_git_is_empty(backend):
    with nbmlops.start_run() as run:
        pass
    assert run.git == {"commit": None, "branch": None, "dirty": None}
    assert run.artifacts == []


def test_source_is_recorded(backend, tmp_path, monkeypatch):
    notebook = tmp_path / "analysis.ipynb"
    monkeypatch.setenv("NBMLOPS_SOURCE", str(notebook))
    with nbmlops.start_run() as from_notebook:
        pass
    assert (from_notebook.info["source"], from_notebook.info["source_kind"]) == (
        str(notebook),
        "notebook",
    )

    monkeypatch.delenv("NBMLOPS_SOURCE")
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    monkeypatch.setattr(sys, "argv", [str(script)])
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)  # not inside a shell
    with nbmlops.start_run() as from_script:
        pass
    assert (from_script.info["source"], from_script.info["source_kind"]) == (str(script), "script")


def test_code_and_process_identity_are_recorded(backend):
    import os
    import socket

    with nbmlops.start_run(code="x = 1\nprint(x)") as run:
        pass
    info = run.info
    assert run.code == "x = 1\nprint(x)"
    assert info["pid"] == os.getpid()
    assert info["host"] == socket.gethostname()
