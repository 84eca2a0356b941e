"""``%drift`` through a real IPython shell and ``nbmlops drift`` as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import nbmlops
from nbmlops.errors import NbmlopsError
from nbmlops.monitoring import DriftReport


def _frames(shift: float, n: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(["x", "y"], n)}
    )
    cur = pd.DataFrame(
        {"a": rng.normal(shift, 1, n), "b": rng.normal(shift, 1, n), "c": rng.choice(["x", "y"], n)}
    )
    return ref, cur


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


def test_drift_magic_on_variables_and_files(shell, tmp_path):
    ref, cur = _frames(1.0)
    shell.user_ns.update(ref=ref, cur=cur)
    html = tmp_path / "out.html"
    report = shell.run_line_magic("drift", f"ref cur --html {html} --save magic-report")
    assert isinstance(report, DriftReport)
    assert report.drifted_columns[:2] and set(report.drifted_columns) == {"a", "b"}
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert nbmlops.drift_reports().loc[0, "name"] == "magic-report"
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    from_files = shell.run_line_magic(
        "drift", f"{tmp_path / 'ref.parquet'} {tmp_path / 'cur.csv'} --columns a,c"
    )
    assert [c["column"] for c in from_files.columns] == ["a", "c"]
    result = shell.run_cell("%drift nothing cur")
    assert isinstance(result.error_in_exec, NbmlopsError)
    assert "neither a notebook variable" in str(result.error_in_exec)


def test_cli_drift_exit_codes_and_outputs(workspace, tmp_path):
    same_ref, same_cur = _frames(0.0)
    moved_ref, moved_cur = _frames(1.0)
    same_ref.to_csv(tmp_path / "ref.csv", index=False)
    same_cur.to_parquet(tmp_path / "same.parquet")
    moved_cur.to_parquet(tmp_path / "moved.parquet")

    calm = cli(
        workspace,
        "drift",
        str(tmp_path / "ref.csv"),
        str(tmp_path / "same.parquet"),
        "--fail-on-drift",
    )
    assert calm.returncode == 0, calm.stderr
    assert calm.stdout.startswith("no dataset drift: 0 of 3 columns drifted")

    out_html, out_json = tmp_path / "r.html", tmp_path / "r.json"
    alarm = cli(
        workspace,
        "drift",
        str(tmp_path / "ref.csv"),
        str(tmp_path / "moved.parquet"),
        "--fail-on-drift",
        "--html",
        str(out_html),
        "--json",
        str(out_json),
        "--save",
        "nightly",
    )
    assert alarm.returncode == 1, alarm.stderr
    assert alarm.stdout.startswith("DATASET DRIFT: 2 of 3 columns drifted")
    assert "a shifted (wasserstein" in alarm.stdout
    assert json.loads(out_json.read_text())["dataset_drift"] is True
    assert "plotly.js (basic - minified)" in out_html.read_text()
    assert nbmlops.drift_reports().loc[0, "name"] == "nightly"
    without_flag = cli(
        workspace,
        "drift",
        str(tmp_path / "ref.csv"),
        str(tmp_path / "moved.parquet"),
        "--html",
        str(out_html),
        "--cdn",
    )
    assert without_flag.returncode == 0
    assert "cdn.plot.ly" in out_html.read_text()


def test_cli_drift_errors(workspace, tmp_path):
    ref, cur = _frames(0.0)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.drop(columns=["b"]).to_csv(tmp_path / "cur.csv", index=False)
    mismatch = cli(workspace, "drift", str(tmp_path / "ref.csv"), str(tmp_path / "cur.csv"))
    assert mismatch.returncode == 2
    assert "only in reference: 'b'" in mismatch.stderr and "Traceback" not in mismatch.stderr
    missing = cli(workspace, "drift", str(tmp_path / "nope.csv"), str(tmp_path / "cur.csv"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    odd = cli(workspace, "drift", str(tmp_path / "ref.txt"), str(tmp_path / "cur.csv"))
    assert odd.returncode == 2 and ".csv or .parquet" in odd.stderr
