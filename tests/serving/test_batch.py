"""``nbmlops score MODEL IN -o OUT``: streaming batch scoring of Parquet data, logged, here and
on a Dask cluster (the shared two-worker LocalCluster of tests/conftest.py)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import nbmlops
from nbmlops.cli import main

from .conftest import FEATURES, make_frame


def test_score_file_streams_row_batches_and_logs(served_workspace, tmp_path):
    frame = make_frame(1000, seed=9)
    source = tmp_path / "in.parquet"
    frame.to_parquet(source, row_group_size=300, index=False)
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(
        main,
        [
            "score",
            "models:/churn@production",
            str(source),
            "-o",
            str(out),
            "--batch-rows",
            "256",
            "--id-column",
            "customer_id",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "scored 1000 rows with v1" in result.output
    scored = pq.ParquetFile(out)
    # read row group by row group (a 300-row group in slices of 256), never the whole file
    # with one iter_batches, whose buffers grow with the file: one output row group per batch
    sizes = [scored.metadata.row_group(i).num_rows for i in range(scored.metadata.num_row_groups)]
    assert sizes == [256, 44, 256, 44, 256, 44, 100]
    table = scored.read().to_pandas()
    expected = nbmlops.get_model("churn", 1).predict(frame[FEATURES])
    assert table["prediction"].tolist() == expected.tolist()
    assert table["customer_id"].tolist() == frame["customer_id"].tolist()
    log = nbmlops.prediction_log("churn")
    logged = log.loc[log["prediction_id"].isin(frame["customer_id"])]
    assert len(logged) == 1000 and set(logged["model_version"]) == {1}
    assert not (tmp_path / "out.parquet.partial").exists()


def test_score_file_failure_leaves_no_output(served_workspace, tmp_path):
    frame = make_frame(50).drop(columns=["income"])
    source = tmp_path / "bad.parquet"
    frame.to_parquet(source, index=False)
    out = tmp_path / "never.parquet"
    with pytest.raises(nbmlops.SchemaViolation, match="missing columns: 'income'"):
        nbmlops.score_file("churn", str(source), str(out), log=False, progress=False)
    assert not out.exists() and not (tmp_path / "never.parquet.partial").exists()
    result = CliRunner().invoke(
        main, ["score", "churn", str(tmp_path / "nope.parquet"), "-o", str(out)]
    )
    assert result.exit_code == 2 and "no input file" in result.output


def _two_files(tmp_path, frame):
    folder = tmp_path / "in"
    folder.mkdir()
    frame.iloc[:700].to_parquet(folder / "a.parquet", row_group_size=100, index=False)
    frame.iloc[700:].to_parquet(folder / "b.parquet", row_group_size=300, index=False)
    return folder


def test_score_on_dask_keeps_order_and_logs_from_the_workers(
    served_workspace, dask_client, tmp_path
):
    frame = make_frame(1000, seed=11).assign(customer_id=lambda f: "d" + f["customer_id"])
    folder = _two_files(tmp_path, frame)
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(
        main,
        [
            "score",
            "churn",
            str(folder),
            "-o",
            str(out),
            "--batch-rows",
            "250",
            "--id-column",
            "customer_id",
            "--scheduler",
            dask_client.scheduler.address,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "scored 1000 rows with v1" in result.output
    table = pq.read_table(out).to_pandas()
    expected = nbmlops.get_model("churn", 1).predict(frame[FEATURES])
    assert table["customer_id"].tolist() == frame["customer_id"].tolist()  # input order
    assert table["prediction"].tolist() == expected.tolist()
    log = nbmlops.prediction_log("churn")
    logged = log.loc[log["prediction_id"].isin(frame["customer_id"])]
    assert len(logged) == 1000 and set(logged["model_version"]) == {1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out.parquet"]


def test_a_failed_dask_job_leaves_nothing_behind_its_still_running_parts(
    served_workspace, dask_client, tmp_path
):
    """One bad file fails at once while the other worker is still scoring good parts: the
    cancel does not stop those, yet no part folder is left (it was removed while they wrote,
    or they found it gone and failed unseen)."""
    import time

    folder = tmp_path / "in"
    folder.mkdir()
    make_frame(200).drop(columns=["income"]).to_parquet(folder / "a-bad.parquet", index=False)
    good = make_frame(4_000, seed=5)
    for i in range(12):
        good.to_parquet(folder / f"b-{i:02d}.parquet", row_group_size=500, index=False)
    for _ in range(3):
        out = tmp_path / "never.parquet"
        with pytest.raises(nbmlops.SchemaViolation, match="missing columns: 'income'"):
            nbmlops.score_file(
                "churn",
                str(folder),
                str(out),
                log=False,
                progress=False,
                batch_rows=500,
                scheduler=dask_client,
            )
        # parts cancelled while running go on on their worker: give them time to (fail to)
        # write; nothing may appear
        time.sleep(1.5)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_score_on_dask_failure_leaves_nothing(served_workspace, dask_client, tmp_path):
    frame = make_frame(400).drop(columns=["income"])
    folder = _two_files(tmp_path, frame)
    out = tmp_path / "never.parquet"
    with pytest.raises(nbmlops.SchemaViolation, match="missing columns: 'income'"):
        nbmlops.score_file(
            "churn", str(folder), str(out), log=False, progress=False, scheduler=dask_client
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    with pytest.raises(nbmlops.ServingError, match="engine='dask'"):
        nbmlops.score_file("churn", str(folder), str(out), engine="local", scheduler=dask_client)
