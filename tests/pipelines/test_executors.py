"""Executors: the local process pool and a real Dask distributed LocalCluster give the same
results; bad executor arguments are clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import nbmlops
from nbmlops.errors import PipelineError
from nbmlops.pipelines.dag import run_pipeline
from nbmlops.pipelines.executors import make_executor
from nbmlops.pipelines.sweeps import sweep

from ._build import three_steps
from .test_sweep import score_notebook

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local_cluster:
        yield local_cluster


def test_executor_arguments_are_checked():
    with pytest.raises(PipelineError, match="unknown executor 'ray'"):
        make_executor("ray", None)
    with pytest.raises(PipelineError, match="only used with executor='dask'"):
        make_executor("local", None, scheduler="tcp://localhost:8786")
    with pytest.raises(PipelineError, match="jobs must be a positive integer"):
        make_executor("local", 0)


def test_unreachable_scheduler_is_a_clear_error():
    import dask

    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(PipelineError, match="cannot reach the Dask scheduler"),
    ):
        make_executor("dask", None, scheduler="tcp://127.0.0.1:9")


@pytest.mark.slow
def test_sweep_on_dask_matches_local(workspace, tmp_path: Path, cluster):
    nb = score_notebook(tmp_path)
    grid = {"lr": [0.1, 0.01], "depth": [3, 5]}
    local = sweep(nb, grid, parallel=2, progress=False)
    on_dask = sweep(nb, grid, executor="dask", scheduler=cluster.scheduler_address, progress=False)
    assert on_dask["status"].tolist() == ["FINISHED"] * 4
    columns = ["params.lr", "params.depth", "metrics.score", "metrics.inverse"]
    assert on_dask[columns].equals(local[columns])
    np.testing.assert_allclose(on_dask["metrics.score"], [0.3, 0.5, 0.03, 0.05])
    sweep_run = on_dask.attrs["sweep_run_id"]
    assert all(nbmlops.get_run(r).parent_run_id == sweep_run for r in on_dask["run_id"])
    assert set(on_dask["run_id"]).isdisjoint(local["run_id"])


@pytest.mark.slow
def test_pipeline_on_dask_then_cached_locally(workspace, tmp_path: Path, cluster):
    spec = three_steps(tmp_path / "p")
    with distributed.Client(cluster) as client:
        result = run_pipeline(spec, executor="dask", scheduler=client, progress=False)
        assert client.status != "closed"  # a client we were given stays open
    assert result.ran == ["prepare", "train", "evaluate"]
    assert result.metrics["evaluate.score"] == 0.6
    pids = {nbmlops.get_run(s.run_id).info["pid"] for s in result.steps.values()}
    assert os.getpid() not in pids  # ran in the Dask workers
    again = run_pipeline(spec, progress=False)  # the cache does not care where a step ran
    assert again.cached == ["prepare", "train", "evaluate"]
