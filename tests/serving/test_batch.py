"""``nbmlops score MODEL IN -o OUT``: streaming batch scoring of a Parquet file, logged."""

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
    assert scored.metadata.num_row_groups == 4  # one row group per batch of 256 rows
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
