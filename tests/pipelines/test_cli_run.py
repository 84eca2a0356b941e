"""``nbmlops run`` for CI: exit codes 0/1/2 and a JUnit report a JUnit parser reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

import nbmlops
from nbmlops.cli import main

from ._notebooks import cell, write_notebook

pytestmark = pytest.mark.usefixtures("workspace")


def _train(tmp_path):
    return write_notebook(
        tmp_path / "train.ipynb",
        cell("threshold = 0.5\nlabel = 'x'", "parameters"),
        "%load_ext nbmlops",
        """
        %%track
        f1 = threshold + 0.25
        """,
        cell("assert label != 'forbidden', 'label is forbidden'", "nbmlops:gate"),
    )


def _junit(path):
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    return root, suite, cases


@pytest.mark.slow
def test_gate_failure_exits_2_with_a_junit_report(tmp_path, workspace):
    nb = _train(tmp_path)
    report = tmp_path / "reports" / "junit.xml"
    env = {**os.environ, "NBMLOPS_HOME": str(workspace)}
    out = subprocess.run(
        [sys.executable, "-m", "nbmlops", "run", str(nb), "-p", "threshold", "0.5"]
        + ["-p", "label", "forbidden", "--gate", "metrics.f1>=0.85", "--junit", str(report)],
        capture_output=True,
        text=True,
        env=env,
        timeout=480,  # a deadline against hangs, not an expected time: the machine may be busy
    )
    assert out.returncode == 2, out.stderr
    assert "gates failed" in out.stderr and "metrics.f1>=0.85" in out.stderr

    root, suite, cases = _junit(report)
    assert suite.get("name") == "train.ipynb"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "2", "0")
    assert cases["execute"].find("error") is None
    failure = cases["gate: metrics.f1>=0.85"].find("failure")
    assert failure is not None and "0.75 vs 0.85" in failure.get("message")
    label_case = cases["gate: cell 3: assert label != 'forbidden', 'label is forbidden'"]
    assert "label is forbidden" in label_case.find("failure").get("message")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["params.label"] == "'forbidden'" and props["metrics.f1"] == "0.75"
    run = nbmlops.get_run(props["run_id"])
    assert run.status == "FAILED" and run.tags["nbmlops.gate"] == "failed"


@pytest.mark.slow
def test_ok_run_exits_0_with_parameters_from_yaml_and_file(tmp_path):
    nb = _train(tmp_path)
    params = tmp_path / "params.yaml"
    params.write_text("threshold: 0.1\nlabel: from-file\n")
    report = tmp_path / "ok.xml"
    result = CliRunner().invoke(
        main,
        ["run", str(nb), "-f", str(params), "-y", "threshold: 0.7", "--gate", "metrics.f1 >= 0.9"]
        + ["--junit", str(report), "--json", "-e", "ci"],
    )
    assert result.exit_code == 0, result.output
    assert '"outcome": "ok"' in result.output
    root, suite, cases = _junit(report)
    assert (root.get("failures"), root.get("errors")) == ("0", "0")
    (row,) = nbmlops.runs(experiment="ci", filter="`tags.nbmlops.kind` = 'notebook'").itertuples()
    run = nbmlops.get_run(row.run_id)
    assert run.params == {"threshold": 0.7, "label": "from-file"}  # -y wins over -f
    assert run.metrics["f1"] == pytest.approx(0.95)


@pytest.mark.slow
def test_execution_failure_exits_1_and_the_junit_report_has_the_error(tmp_path):
    nb = write_notebook(tmp_path / "boom.ipynb", "1 / 0")
    report = tmp_path / "boom.xml"
    result = CliRunner().invoke(main, ["run", str(nb), "--junit", str(report)])
    assert result.exit_code == 1
    root, suite, cases = _junit(report)
    error = cases["execute"].find("error")
    assert error.get("type") == "ZeroDivisionError" and "ZeroDivisionError" in error.text
    assert root.get("errors") == "1"


@pytest.mark.parametrize(
    "text",
    [
        "s: 2019-01-01",
        "s: 2019-01-01 10:30:00",
        "{a: 1, b: 0.5, c: yes, d: ~, e: [1, x], f: 2001-12-14t21:59:43.10-05:00}",
    ],
)
def test_yaml_parameters_are_read_as_papermill_reads_them(text):
    import yaml
    from papermill.iorw import NoDatesSafeLoader

    from nbmlops.cli.run import collect_parameters

    assert collect_parameters([], [text], []) == yaml.load(text, Loader=NoDatesSafeLoader)


@pytest.mark.slow
def test_a_date_in_yaml_parameters_arrives_as_the_string_papermill_injects(tmp_path):
    nb = write_notebook(
        tmp_path / "dates.ipynb",
        cell("s = ''\nt = ''", "parameters"),
        """
        import json
        with open("seen.json", "w") as fh:
            json.dump([type(s).__name__, s, type(t).__name__, t], fh)
        """,
    )
    (tmp_path / "params.yaml").write_text("t: 2020-02-29\n")
    args = ["run", str(nb), "-y", "s: 2019-01-01", "-f", str(tmp_path / "params.yaml")]
    result = CliRunner().invoke(main, [*args, "-e", "dates"])
    assert result.exit_code == 0, result.output
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == ["str", "2019-01-01", "str", "2020-02-29"]
    (run_id,) = nbmlops.runs(experiment="dates")["run_id"]
    assert nbmlops.get_run(run_id).params == {"s": "2019-01-01", "t": "2020-02-29"}


def test_bad_input_exits_1_not_2(tmp_path):
    nb = write_notebook(tmp_path / "p.ipynb", cell("a = 1", "parameters"))
    report = tmp_path / "bad.xml"
    runner = CliRunner()
    unknown = runner.invoke(main, ["run", str(nb), "-p", "b", "2", "--junit", str(report)])
    assert unknown.exit_code == 1 and "unknown parameters ['b']" in unknown.output
    assert _junit(report)[0].get("errors") == "1"
    assert runner.invoke(main, ["run", str(nb), "--no-such-option"]).exit_code == 1
    assert runner.invoke(main, ["run", str(nb), "--gate", "metrics.f1 >"]).exit_code == 1
    assert runner.invoke(main, ["run", str(tmp_path / "missing.ipynb")]).exit_code == 1


def test_raw_parameters_stay_strings_and_win_as_in_papermill():
    # papermill's CLI: -f, then -y, then -p (typed), then -r (raw strings), later wins.
    from nbmlops.cli.run import collect_parameters

    assert collect_parameters([], ["x: 1\nz: 3"], [("n", "5"), ("x", "2")], [("x", "1.5")]) == {
        "x": "1.5",
        "z": 3,
        "n": 5,
    }
    assert collect_parameters([], [], [], [("flag", "True"), ("none", "None")]) == {
        "flag": "True",
        "none": "None",
    }


@pytest.mark.slow
def test_run_with_raw_parameters(tmp_path):
    nb = write_notebook(
        tmp_path / "raw.ipynb",
        cell("n = 0\nm = 0\nx = 0", "parameters"),
        """
        import json
        with open("seen.json", "w") as fh:
            json.dump([repr(n), repr(m), repr(x)], fh)
        """,
    )
    args = ["run", str(nb), "-r", "n", "5", "-p", "m", "5", "-p", "x", "1"]
    result = CliRunner().invoke(main, [*args, "--parameters-raw", "x", "1", "-e", "raw"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "seen.json").read_text()) == ["'5'", "5", "'1'"]
    (run_id,) = nbmlops.runs(experiment="raw")["run_id"]
    assert nbmlops.get_run(run_id).params == {"n": "5", "m": 5, "x": "1"}
