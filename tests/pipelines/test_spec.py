"""pipeline.yaml validation: every mistake gives a PipelineError naming the place and the fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
import pytest

from nbmlops.errors import NbmlopsError, PipelineCycle, PipelineError
from nbmlops.pipelines.spec import Pipeline


def _notebooks(folder: Path, *names: str) -> None:
    for name in names:
        nbformat.write(nbformat.v4.new_notebook(), str(folder / f"{name}.ipynb"))


def _load(tmp_path: Path, text: str) -> Pipeline:
    file = tmp_path / "pipeline.yaml"
    file.write_text(textwrap.dedent(text))
    return Pipeline.load(file)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _notebooks(tmp_path, "a", "b", "c", "d")
    return tmp_path


def test_valid_pipeline_keeps_order_and_normalizes(folder: Path):
    pipeline = _load(
        folder,
        """
        name: demo
        experiment: exp
        parameters: {seed: 1}
        steps:
          a:
            notebook: ./a.ipynb
            inputs: data/./raw.csv
            outputs: [out/a.csv]
          c: c.ipynb
          b:
            notebook: b.ipynb
            needs: [a, c]
            parameters: {lr: 0.1}
            inputs: [out/a.csv]
            gates: ["metrics.f1 >= 0.5"]
            timeout: 30
        """,
    )
    assert pipeline.name == "demo" and pipeline.experiment == "exp"
    assert pipeline.parameters == {"seed": 1}
    assert list(pipeline.steps) == ["a", "c", "b"]
    assert pipeline.order() == ["a", "c", "b"]
    a, b = pipeline.steps["a"], pipeline.steps["b"]
    assert a.notebook == "a.ipynb" and a.inputs == ("data/raw.csv",)
    assert b.needs == ("a", "c") and b.parameters == {"lr": 0.1} and b.timeout == 30.0
    assert pipeline.upstream("b") == {"a", "c"} and pipeline.downstream("a") == {"b"}
    assert pipeline.producers() == {"out/a.csv": "a"}
    assert pipeline.missing_inputs() == {"a": ["data/raw.csv"]}
    with pytest.raises(PipelineError, match=r"input 'data/raw.csv' of step 'a' does not exist"):
        pipeline.check_inputs()


def test_name_defaults_to_the_folder(folder: Path):
    assert _load(folder, "steps: {a: a.ipynb}").name == folder.name


def test_yaml_syntax_error_names_line(folder: Path):
    with pytest.raises(PipelineError, match=r"line 4.*invalid YAML") as info:
        _load(folder, "steps:\n  a:\n    notebook: a.ipynb\n   needs: [b]\n")
    assert isinstance(info.value, NbmlopsError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("- a", r"top level must be a mapping"),
        ("name: x", r"'steps' is missing or empty"),
        ("steps: [a, b]", r"'steps' must be a mapping"),
        ("stepz: {a: a.ipynb}", r"unknown key 'stepz' \(did you mean 'steps'\?\)"),
        ("steps: {a: {notebok: a.ipynb}}", r"unknown key 'notebok' \(did you mean 'notebook'\?\)"),
        ("steps: {a: {needs: [b]}}", r"step 'a' has no 'notebook'"),
        ("steps: {a: {notebook: zz.ipynb}}", r"notebook 'zz.ipynb' does not exist"),
        ("steps: {a: {notebook: a.py}}", r"not a .ipynb file"),
        (
            "steps: {a: {notebook: a.ipynb, needs: [bb]}, b: b.ipynb}",
            r"needs 'bb'.*did you mean 'b'",
        ),
        ("steps: {a: {notebook: a.ipynb, parameters: [1]}}", r"'parameters' must be a mapping"),
        ("steps: {a: {notebook: a.ipynb, parameters: {1x: 2}}}", r"not a Python identifier"),
        ("steps: {a: {notebook: a.ipynb, timeout: -1}}", r"'timeout' must be a positive number"),
        ("steps: {a: {notebook: a.ipynb, timeout: .nan}}", r"'timeout' must be a positive number"),
        ("steps: {a: {notebook: a.ipynb, timeout: .inf}}", r"'timeout' must be a positive number"),
        ("steps: {a: {notebook: a.ipynb, timeout: 1e400}}", r"'timeout' must be a positive number"),
        ("steps: {a: {notebook: a.ipynb, timeout: 10000000000}}", r"at most 1000000000"),
        ('steps: {"a\\n": a.ipynb}', r"step name 'a\\n' is invalid"),  # no trailing newline
        ("steps: {a: {notebook: a.ipynb, outputs: {x: 1}}}", r"'outputs' must be a list"),
        ("steps: {'a b': a.ipynb}", r"step name 'a b' is invalid"),
        ("steps: {a: a.ipynb, a: b.ipynb}", r"key 'a' appears twice"),
        (
            "steps: {a: {notebook: a.ipynb, outputs: [x]}, b: {notebook: b.ipynb, outputs: [x]}}",
            r"'x' is an output of both 'a' and 'b'",
        ),
        (
            "steps: {a: {notebook: a.ipynb, inputs: [x], outputs: [x]}}",
            r"declares 'x' as both input and output",
        ),
    ],
)
def test_invalid_specs(folder: Path, text: str, pattern: str):
    with pytest.raises(PipelineError, match=pattern):
        _load(folder, text)


def test_cycle_is_named(folder: Path):
    text = """
    steps:
      a: {notebook: a.ipynb, needs: [c]}
      b: {notebook: b.ipynb, needs: [a]}
      c: {notebook: c.ipynb, needs: [b]}
      d: {notebook: d.ipynb}
    """
    with pytest.raises(PipelineCycle) as info:
        _load(folder, text)
    cycle = info.value.cycle
    assert cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"} and len(cycle) == 4
    assert "needs" in str(info.value)
    # each step in the chain needs the next one
    steps = {"a": "c", "b": "a", "c": "b"}
    assert all(steps[x] == y for x, y in zip(cycle, cycle[1:], strict=False))


def test_self_need_is_a_cycle(folder: Path):
    with pytest.raises(PipelineCycle, match="'a' needs 'a'"):
        _load(folder, "steps: {a: {notebook: a.ipynb, needs: [a]}}")


def test_input_written_by_a_step_not_needed(folder: Path):
    text = """
    steps:
      a: {notebook: a.ipynb, outputs: [mid.csv]}
      b: {notebook: b.ipynb, outputs: [other.csv]}
      c: {notebook: c.ipynb, needs: [b], inputs: [mid.csv]}
    """
    with pytest.raises(
        PipelineError, match=r"step 'c' reads 'mid.csv'.*add 'needs: \[a\]'"
    ) as info:
        _load(folder, text)
    assert info.value.step == "c"


def test_transitive_need_is_enough(folder: Path):
    text = """
    steps:
      a: {notebook: a.ipynb, outputs: [mid.csv]}
      b: {notebook: b.ipynb, needs: [a]}
      c: {notebook: c.ipynb, needs: [b], inputs: [mid.csv]}
    """
    assert _load(folder, text).order() == ["a", "b", "c"]


def test_missing_file_and_directory_form(tmp_path: Path):
    with pytest.raises(PipelineError, match="does not exist"):
        Pipeline.load(tmp_path / "nope.yaml")
    _notebooks(tmp_path, "a")
    (tmp_path / "pipeline.yaml").write_text("steps: {a: a.ipynb}")
    assert list(Pipeline.load(tmp_path).steps) == ["a"]
