"""Training-serving skew checks, the %features magic and the `nbmlops features` CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from nbmlops import features
from nbmlops.cli import main
from nbmlops.errors import OnlineStoreError
from nbmlops.features import Entity, FeatureView, Field

NOW = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
user = Entity("user", join_keys="user_id")


def _view(ttl=None):
    return FeatureView(
        "user_stats",
        user,
        [Field("score", "float64", description="risk score"), Field("tier", "string")],
        timestamp="ts",
        ttl=ttl,
        tags={"team": "risk"},
    )


def _rows(scores, hours_ago=1):
    return pd.DataFrame(
        {
            "user_id": list(range(len(scores))),
            "ts": [NOW - pd.Timedelta(hours=hours_ago)] * len(scores),
            "score": scores,
            "tier": ["gold"] * len(scores),
        }
    )


def test_no_skew_after_materialize_then_stale_online_values_are_reported(fs):
    view = _view()
    fs.ingest(view, _rows([0.1, 0.2, 0.3]))
    fs.materialize()
    keys = [{"user_id": i} for i in range(3)]
    report = fs.check_skew("user_stats", keys)
    assert report.ok and report.n_mismatches == 0
    assert "no mismatches" in repr(report) and "<table" in report._repr_html_()
    # new offline rows, not materialized: online is stale for user 1
    fs.ingest(view, _rows([0.1, 0.9, 0.3], hours_ago=0))
    report = fs.check_skew("user_stats", pd.DataFrame({"user_id": [0, 1, 2]}))
    assert not report.ok
    summary = report.summary.set_index("field")
    assert summary.loc["score", "mismatches"] == 1 and summary.loc["tier", "mismatches"] == 0
    row = report.mismatches.iloc[0]
    assert (row["user_id"], row["field"], row["offline"], row["online"]) == (1, "score", 0.9, 0.2)
    fs.materialize()
    assert fs.check_skew("user_stats", keys).ok


def test_skew_reports_an_online_version_older_than_the_registry(fs):
    fs.ingest(_view(), _rows([0.5]))
    fs.materialize()
    fs.apply(_view(ttl="30d"))
    report = fs.check_skew("user_stats", [{"user_id": 0}])
    assert report.stale_version and not report.ok and "materialize" in repr(report)


def test_skew_needs_materialized_values(fs):
    fs.apply(_view())
    with pytest.raises(OnlineStoreError, match="materialize"):
        fs.check_skew("user_stats", [{"user_id": 0}])


def test_features_magic(shell):
    features.apply(_view())
    table = shell.run_line_magic("features", "")
    assert table["view"].tolist() == ["user_stats"]
    assert shell.run_line_magic("features", "risk score --fields")["ref"].tolist() == [
        "user_stats:score"
    ]
    assert shell.run_line_magic("features", "nothing-like-this").empty
    assert shell.run_line_magic("features", "--versions user_stats")["version"].tolist() == [1]


def test_cli_ls_show_materialize(backend):
    runner = CliRunner()
    empty = runner.invoke(main, ["features", "ls"])
    assert empty.exit_code == 0 and "no feature views yet" in empty.output
    features.ingest(_view(), _rows([0.1, 0.2]))
    listed = runner.invoke(main, ["features", "ls"])
    assert listed.exit_code == 0 and "user_stats" in listed.output
    as_json = json.loads(runner.invoke(main, ["features", "ls", "--fields", "--json"]).output)
    assert [r["ref"] for r in as_json] == ["user_stats:score", "user_stats:tier"]
    shown = runner.invoke(main, ["features", "show", "user_stats"])
    assert shown.exit_code == 0, shown.output
    assert "user_stats v1" in shown.output and "2 rows in 1 write" in shown.output
    done = runner.invoke(main, ["features", "materialize"])
    assert done.exit_code == 0 and "user_stats v1: 2 rows written" in done.output
    again = runner.invoke(main, ["features", "materialize", "--incremental"])
    assert again.exit_code == 0 and "0 rows written" in again.output
    assert features.get_online_features("user_stats:score", {"user_id": 1})["score"] == 0.2
    missing = runner.invoke(main, ["features", "show", "nope"])
    assert missing.exit_code == 2 and "no feature view named 'nope'" in missing.output
