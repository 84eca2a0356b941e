"""Sweeps: one tracked notebook run per grid combination, a DataFrame of params and metrics."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import nbmlops
from nbmlops.cli import main
from nbmlops.errors import PipelineError
from nbmlops.pipelines.sweeps import grid_combinations, sweep

from ._build import notebook

SCORE = """
import nbmlops
with nbmlops.start_run(name="fit"):
    nbmlops.log_metric("score", lr * depth)
    nbmlops.log_metric("inverse", 1 / depth)
"""


def score_notebook(folder: Path) -> Path:
    return notebook(folder / "train.ipynb", "lr = 0.1\ndepth = 3", SCORE)


def test_grid_combinations_order_and_values():
    combos = grid_combinations({"lr": [0.1, 0.01], "depth": (3, 5), "seed": 7})
    assert combos == [
        {"lr": 0.1, "depth": 3, "seed": 7},
        {"lr": 0.1, "depth": 5, "seed": 7},
        {"lr": 0.01, "depth": 3, "seed": 7},
        {"lr": 0.01, "depth": 5, "seed": 7},
    ]
    numpy = grid_combinations({"lr": np.array([0.5, 0.25])})
    assert numpy == [{"lr": 0.5}, {"lr": 0.25}] and type(numpy[0]["lr"]) is float
    assert grid_combinations({"name": "abc"}) == [{"name": "abc"}]
    for bad, pattern in [
        ({}, "non-empty mapping"),
        ({"lr": []}, "'lr' has no values"),
        ({"1x": [1]}, "not a Python identifier"),
    ]:
        with pytest.raises(PipelineError, match=pattern):
            grid_combinations(bad)


def test_sweep_checks_names_before_running(workspace, tmp_path: Path):
    nb = score_notebook(tmp_path)
    with pytest.raises(PipelineError, match="does not define 'rate'.*defines: depth, lr"):
        sweep(nb, {"rate": [1, 2]}, progress=False)
    with pytest.raises(PipelineError, match="'lr' is both in grid and in parameters"):
        sweep(nb, {"lr": [1, 2]}, parameters={"lr": 3}, progress=False)
    plain = notebook(tmp_path / "plain.ipynb", None, "x = 1")
    with pytest.raises(PipelineError, match="no cell tagged 'parameters'"):
        sweep(plain, {"x": [1]}, progress=False)
    with pytest.raises(PipelineError, match="not an existing .ipynb"):
        sweep(tmp_path / "nope.ipynb", {"x": [1]}, progress=False)
    assert len(nbmlops.runs()) == 0  # nothing was started


@pytest.mark.slow
def test_sweep_of_four_runs_in_parallel(workspace, tmp_path: Path):
    nb = score_notebook(tmp_path)
    table = sweep(nb, {"lr": [0.1, 0.01], "depth": [3, 5]}, parallel=2, progress=False)
    assert table.columns.tolist() == [
        "run_id",
        "status",
        "params.lr",
        "params.depth",
        "metrics.inverse",
        "metrics.score",
        "duration_s",
        "error",
    ]
    assert table["status"].tolist() == ["FINISHED"] * 4
    assert table["params.lr"].tolist() == [0.1, 0.1, 0.01, 0.01]
    assert table["params.depth"].tolist() == [3, 5, 3, 5]
    np.testing.assert_allclose(table["metrics.score"], [0.3, 0.5, 0.03, 0.05])
    sweep_run = nbmlops.get_run(table.attrs["sweep_run_id"])
    assert sweep_run.status == "FINISHED" and sweep_run.tags["nbmlops.kind"] == "sweep"
    for row in table.itertuples():
        run = nbmlops.get_run(row.run_id)
        assert run.parent_run_id == sweep_run.run_id
        assert run.params["lr"] == row._3 and run.params["depth"] == row._4


@pytest.mark.slow
def test_sequential_sweep_runs_in_this_process_in_grid_order(workspace, tmp_path: Path):
    nb = score_notebook(tmp_path)
    table = sweep(nb, {"lr": [0.1, 0.01], "depth": [3]}, parallel=1, progress=False)
    assert table["status"].tolist() == ["FINISHED"] * 2
    np.testing.assert_allclose(table["metrics.score"], [0.3, 0.03])
    runs = [nbmlops.get_run(run_id) for run_id in table["run_id"]]
    # No worker process to start: each notebook run is recorded by this process, in order.
    assert {run.info["pid"] for run in runs} == {os.getpid()}
    assert runs[0].info["start_time"] < runs[1].info["start_time"]
    assert all(run.parent_run_id == table.attrs["sweep_run_id"] for run in runs)


@pytest.mark.slow
def test_sweep_cli_reports_failed_runs(workspace, tmp_path: Path):
    nb = score_notebook(tmp_path)
    csv = tmp_path / "sweep.csv"
    out = CliRunner().invoke(
        main,
        ["sweep", str(nb), "--grid", "depth=2,0", "-p", "lr", "0.5", "-j", "2", "--csv", str(csv)],
    )
    assert out.exit_code == 1, out.output
    assert "1 of 2 runs failed" in out.output and "ZeroDivisionError" in out.output
    lines = csv.read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("run_id,status,params.depth,")
    assert nbmlops.runs(filter="`tags.nbmlops.kind` == 'sweep'")["status"].tolist() == ["FAILED"]


def test_cli_values_and_grid_parsing():
    from nbmlops.cli.pipelines import parse_grid, parse_value

    assert [parse_value(v) for v in ("3", "0.1", "1e-3", "True", "None", "abc", "[1, 2]")] == [
        3,
        0.1,
        0.001,
        True,
        None,
        "abc",
        [1, 2],
    ]
    assert parse_grid(("lr=0.1,0.01", "name=a,b", "layers=[[64], [64, 32]]")) == {
        "lr": [0.1, 0.01],
        "name": ["a", "b"],
        "layers": [[64], [64, 32]],
    }
    for bad in (("lr",), ("lr=",), ("lr=1", "lr=2")):
        with pytest.raises(PipelineError, match="--grid"):
            parse_grid(bad)


def test_cli_bad_grid_exits_1(workspace, tmp_path: Path):
    out = CliRunner().invoke(main, ["sweep", str(score_notebook(tmp_path)), "--grid", "lr"])
    assert out.exit_code == 1 and "use NAME=V1,V2" in out.output
    out = CliRunner().invoke(main, ["sweep", str(tmp_path / "train.ipynb")])  # --grid missing
    assert out.exit_code == 1
