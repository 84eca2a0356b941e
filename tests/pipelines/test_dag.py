"""Running pipeline.yaml with real kernels: caching with reasons, reruns downstream of a changed
input, --force, failures that stop only their dependants, parallel independent steps."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import nbmlops
from nbmlops.cli import main
from nbmlops.errors import PipelineError, PipelineFailed
from nbmlops.pipelines.dag import pipeline_status, run_pipeline, step_parameters
from nbmlops.pipelines.spec import Pipeline

from .._cli_imports import run_cli
from ._build import notebook, three_steps, write

pytestmark = pytest.mark.slow


def _step_runs(pipeline_run_id: str) -> list[str]:
    frame = nbmlops.runs()
    return sorted(frame.loc[frame["tags.nbmlops.kind"] == "pipeline-step", "run_id"].tolist())


def test_three_steps_cache_and_reasons(workspace, tmp_path: Path):
    spec = three_steps(tmp_path / "p")

    first = run_pipeline(spec, progress=False)
    assert first.ok and first.ran == ["prepare", "train", "evaluate"]
    assert {s.reason for s in first.steps.values()} == {"no earlier run"}
    assert first.metrics["train.total"] == 6.0 and first.metrics["evaluate.score"] == 0.6
    pipeline_run = nbmlops.get_run(first.run_id)
    assert pipeline_run.metrics["evaluate.score"] == 0.6
    assert pipeline_run.tags["nbmlops.step.train"] == "ran"
    for step in first.steps.values():  # every step is a child run of the pipeline run
        assert nbmlops.get_run(step.run_id).parent_run_id == first.run_id
    runs_after_first = len(nbmlops.runs())

    second = run_pipeline(spec, progress=False)
    assert second.ok and second.ran == [] and second.cached == ["prepare", "train", "evaluate"]
    for name, step in second.steps.items():
        earlier = first.steps[name].run_id
        assert step.run_id == earlier
        assert step.reason == (
            f"cached: same notebook, parameters, inputs and environment as run {earlier[:8]}"
        )
    assert second.metrics == first.metrics  # cached steps report the reused runs' metrics
    assert len(nbmlops.runs()) == runs_after_first + 1  # only the new pipeline run

    # Touching a file without changing its content keeps everything cached.
    os.utime(tmp_path / "p" / "data" / "raw.csv", (time.time() + 5, time.time() + 5))
    assert run_pipeline(spec, progress=False).ran == []

    # A changed input reruns exactly the steps downstream of it.
    write(tmp_path / "p" / "data" / "holdout.csv", "20\n")
    third = run_pipeline(spec, progress=False)
    assert third.ran == ["evaluate"] and third.cached == ["prepare", "train"]
    assert third.steps["evaluate"].reason == "input data/holdout.csv changed"
    assert third.metrics["evaluate.score"] == 0.3

    write(tmp_path / "p" / "data" / "raw.csv", "1\n2\n3\n4\n")
    fourth = run_pipeline(spec, progress=False)
    assert fourth.ran == ["prepare", "train", "evaluate"]
    assert fourth.steps["prepare"].reason == "input data/raw.csv changed"
    assert fourth.steps["train"].reason == "input out/clean.csv changed"
    assert fourth.steps["evaluate"].reason == "input out/model.txt changed"

    # A deleted output reruns its step (and nothing else, as the rewritten file is identical).
    (tmp_path / "p" / "out" / "model.txt").unlink()
    fifth = run_pipeline(spec, progress=False)
    assert fifth.ran == ["train"] and fifth.cached == ["prepare", "evaluate"]
    assert fifth.steps["train"].reason.startswith("output out/model.txt is missing since run")

    # A changed parameter is named with its old and new value.
    sixth = run_pipeline(spec, progress=False, parameters={"offset": 1.5})
    assert sixth.ran == ["train", "evaluate"]
    assert sixth.steps["train"].reason == "parameters changed (offset (unset) -> 1.5)"

    # pipeline show: nothing runs, every step's cache state is shown.
    status = pipeline_status(spec, parameters={"offset": 1.5})
    assert status["state"].tolist() == ["cached", "cached", "cached"]
    assert status["needs"].tolist() == ["", "prepare", "train"]

    # --force through the CLI reruns every step and says so.
    before = len(nbmlops.runs())
    out = CliRunner().invoke(main, ["pipeline", "run", str(spec), "--force", "--no-progress"])
    assert out.exit_code == 0, out.output
    assert out.output.count("forced (--force)") == 3
    assert len(nbmlops.runs()) == before + 1 + 3 + 2  # pipeline run, 3 steps, 2 tracked cells

    shown = CliRunner().invoke(main, ["pipeline", "show", str(spec), "-p", "offset", "2.5"])
    assert shown.exit_code == 0, shown.output
    assert "will run" in shown.output and "offset (unset) -> 2.5" in shown.output


def test_failure_stops_only_dependants_and_independent_steps_run_in_parallel(
    workspace, tmp_path: Path
):
    folder = tmp_path / "p"
    slow = """
    import time
    from pathlib import Path
    start = time.time()
    time.sleep(1.5)
    Path(name + ".txt").write_text(f"{start} {time.time()}")
    """
    notebook(folder / "slow.ipynb", "name = 'x'", slow)
    notebook(folder / "bad.ipynb", None, "raise ValueError('broken on purpose')")
    notebook(folder / "after.ipynb", None, "print('never runs')")
    spec = write(
        folder / "pipeline.yaml",
        """
        steps:
          left: {notebook: slow.ipynb, parameters: {name: left}, outputs: [left.txt]}
          right: {notebook: slow.ipynb, parameters: {name: right}, outputs: [right.txt]}
          bad: bad.ipynb
          after_bad: {notebook: after.ipynb, needs: [bad]}
          after_left: {notebook: after.ipynb, needs: [left]}
        """,
    )
    with pytest.raises(PipelineFailed) as info:
        run_pipeline(spec, jobs=3, progress=False)
    result = info.value.result
    assert not info.value.gate_failed
    assert result.failed == ["bad"] and result.not_run == ["after_bad"]
    assert sorted(result.ran) == ["after_left", "left", "right"]
    assert result.steps["after_bad"].reason == "not run: upstream bad failed"
    assert "ValueError" in result.steps["bad"].error and "broken on purpose" in str(info.value)
    assert nbmlops.get_run(result.run_id).status == "FAILED"
    assert nbmlops.get_run(result.steps["bad"].run_id).status == "FAILED"
    # left and right ran at the same time, in separate processes
    (l0, l1), (r0, r1) = (
        map(float, (folder / f"{n}.txt").read_text().split()) for n in ("left", "right")
    )
    assert max(l0, r0) < min(l1, r1), "independent steps did not overlap"

    # The CLI reports the failure with exit code 1; the failed step is not cached.
    out = CliRunner().invoke(main, ["pipeline", "run", str(spec), "--no-progress"])
    assert out.exit_code == 1, out.output
    assert "bad" in out.output and "not run: upstream bad failed" in out.output


def test_missing_declared_output_fails_the_step(workspace, tmp_path: Path):
    folder = tmp_path / "p"
    notebook(folder / "quiet.ipynb", None, "x = 1")
    spec = write(folder / "pipeline.yaml", "steps: {a: {notebook: quiet.ipynb, outputs: [x.csv]}}")
    result = run_pipeline(spec, progress=False, raise_on_failure=False)
    assert result.failed == ["a"]
    assert "did not write its declared output x.csv" in result.steps["a"].error
    run = nbmlops.get_run(result.steps["a"].run_id)
    assert run.status == "FAILED" and "x.csv" in run.error
    # not cached: the next run tries again
    again = run_pipeline(spec, progress=False, raise_on_failure=False)
    assert again.failed == ["a"]


def test_gate_failure_exits_2(workspace, tmp_path: Path):
    folder = tmp_path / "p"
    notebook(
        folder / "score.ipynb",
        "value = 1.0",
        """
        import nbmlops
        with nbmlops.start_run(name="score"):
            nbmlops.log_metric("score", value)
        """,
    )
    spec = write(
        folder / "pipeline.yaml",
        """
        steps:
          score: {notebook: score.ipynb, gates: ["metrics.score >= 2"]}
        """,
    )
    out = CliRunner().invoke(main, ["pipeline", "run", str(spec), "--no-progress"])
    assert out.exit_code == 2, out.output
    assert "gate" in out.output
    out = CliRunner().invoke(main, ["pipeline", "run", str(spec), "-p", "value", "3"])
    assert out.exit_code == 0, out.output


def test_parameters_reach_only_notebooks_that_define_them(workspace, tmp_path: Path):
    spec = three_steps(tmp_path / "p")
    pipeline = Pipeline.load(spec)
    params = step_parameters(pipeline, {"scale": 2, "offset": 0.5})
    assert params == {"prepare": {"scale": 2}, "train": {"offset": 0.5}, "evaluate": {}}
    with pytest.raises(PipelineError, match="'sclae' is not defined"):
        step_parameters(pipeline, {"sclae": 2})
    out = CliRunner().invoke(main, ["pipeline", "run", str(spec), "-p", "sclae", "2"])
    assert out.exit_code == 1 and "sclae" in out.output


def test_example_pipeline_through_the_cli(workspace, tmp_path: Path):
    import shutil

    example = Path(__file__).parents[2] / "example_notebooks" / "03_pipeline"
    folder = tmp_path / "03_pipeline"
    shutil.copytree(example, folder, ignore=shutil.ignore_patterns("work", "*.out.ipynb"))
    spec = str(folder / "pipeline.yaml")
    first = CliRunner().invoke(main, ["pipeline", "run", spec, "--no-progress"])
    assert first.exit_code == 0, first.output
    assert "3 ran" in first.output
    runs = nbmlops.runs(experiment="example-pipeline")
    pipeline_run = runs.loc[runs["tags.nbmlops.kind"] == "pipeline"].iloc[0]
    assert pipeline_run["metrics.evaluate.f1"] >= 0.7
    second = CliRunner().invoke(main, ["pipeline", "run", spec, "--no-progress"])
    assert second.exit_code == 0 and "3 cached" in second.output, second.output

    # A fully cached run from a fresh process reads the notebooks as plain JSON: no nbformat
    # validator (jsonschema costs seconds at import), no papermill, pandas or IPython.
    third, imported = run_cli(workspace, "pipeline", "run", spec, "--no-progress")
    assert third.returncode == 0 and "3 cached" in third.stdout, third.stderr
    assert not imported & {"jsonschema", "nbformat", "papermill", "pandas", "numpy", "IPython"}, (
        imported
    )
