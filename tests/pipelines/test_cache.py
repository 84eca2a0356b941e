"""Cache keys and decisions, without kernels: digests, keys, lookups against recorded runs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import nbmlops
from nbmlops.pipelines import cache
from nbmlops.pipelines.spec import Pipeline
from nbmlops.store import get_store

from ._build import notebook, write


def test_file_digest_of_files_and_folders(tmp_path: Path):
    a = write(tmp_path / "d" / "a.txt", "x")
    first = cache.file_digest(tmp_path / "d")
    assert cache.file_digest(a) == cache.file_digest(write(tmp_path / "copy.txt", "x"))
    assert first.startswith("dir:")
    write(tmp_path / "d" / "sub" / "b.txt", "y")
    second = cache.file_digest(tmp_path / "d")
    assert second != first
    (tmp_path / "d" / "sub" / "b.txt").rename(tmp_path / "d" / "sub" / "c.txt")
    assert cache.file_digest(tmp_path / "d") != second  # names count, not only bytes


def test_notebook_digest_ignores_outputs_not_sources(tmp_path: Path):
    path = notebook(tmp_path / "n.ipynb", "a = 1", "print(a)")
    digest = cache.notebook_digest(path)
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nb.cells[1].execution_count = 7
    nbformat.write(nb, str(path))
    assert cache.notebook_digest(path) == digest
    nb.cells[1].source = "print(a + 1)"
    nbformat.write(nb, str(path))
    assert cache.notebook_digest(path) != digest


def test_parameter_names(tmp_path: Path):
    path = notebook(tmp_path / "n.ipynb", "a = 1\nb: int = 2\nc, d = 3, 4\nprint(a)", "e = 5")
    assert cache.notebook_parameter_names(path) == {"a", "b", "c", "d"}
    assert cache.notebook_parameter_names(notebook(tmp_path / "m.ipynb", None, "x = 1")) is None


def test_notebooks_are_read_as_plain_json_with_the_same_hash(tmp_path: Path):
    """The cache reads notebooks without nbformat (its validator imports jsonschema, seconds
    at import); the hash must stay the one run_notebook records from nbformat's reading."""
    from nbmlops.pipelines._prepare import notebook_hash, read_cells

    path = notebook(tmp_path / "n.ipynb", "a = 1\nb = 2", "print(a)\nprint(b)", "c = 3")
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[2].metadata["tags"] = ["nbmlops:skip", "other"]
    nbformat.write(nb, str(path))
    # Jupyter stores sources as lists of lines; nbformat joins them when it reads.
    assert any(isinstance(c["source"], list) for c in read_cells(path))
    assert notebook_hash(path) == notebook_hash(nbformat.read(str(path), as_version=4))
    assert cache.notebook_parameter_names(path) == {"a", "b"}

    # A format-3 notebook is converted by nbformat as before.
    v3 = nbformat.v3.new_notebook(
        worksheets=[nbformat.v3.new_worksheet(cells=[nbformat.v3.new_code_cell("x = 1")])]
    )
    old = tmp_path / "old.ipynb"
    old.write_text(nbformat.v3.writes_json(v3))
    assert [c["source"] for c in read_cells(old)] == ["x = 1"]

    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"nbformat": 4, "cells": [')
    with pytest.raises(nbmlops.errors.InvalidNotebook, match="not a readable notebook"):
        notebook_hash(broken)


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    notebook(tmp_path / "s.ipynb", "lr = 0.1", "pass")
    write(tmp_path / "in.csv", "1\n")
    write(
        tmp_path / "pipeline.yaml",
        "steps: {s: {notebook: s.ipynb, inputs: [in.csv], outputs: [out.csv]}}",
    )
    return Pipeline.load(tmp_path / "pipeline.yaml")


def test_key_changes_with_each_part(pipeline: Pipeline, tmp_path: Path):
    step = pipeline.steps["s"]
    base = cache.step_key(pipeline, step, {"lr": 0.1}, "env1")
    assert cache.step_key(pipeline, step, {"lr": 0.1}, "env1") == base
    keys = {
        cache.step_key(pipeline, step, {"lr": 0.2}, "env1").key,
        cache.step_key(pipeline, step, {"lr": 0.1}, "env2").key,
    }
    write(tmp_path / "in.csv", "2\n")
    keys.add(cache.step_key(pipeline, step, {"lr": 0.1}, "env1").key)
    notebook(tmp_path / "s.ipynb", "lr = 0.1", "pass  # edited")
    keys.add(cache.step_key(pipeline, step, {"lr": 0.1}, "env1").key)
    assert base.key not in keys and len(keys) == 4


def _recorded_run(pipeline: Pipeline, key: cache.StepKey) -> str:
    """A finished step run with its key and outputs recorded, as the runner leaves it."""
    step = pipeline.steps["s"]
    tags = {cache.KEY_TAG: key.key, cache.STEP_TAG: cache.step_id(pipeline, step)}
    with nbmlops.start_run(name="s", tags=tags) as run:
        nbmlops.log_params(dict(key.parameters))
    assert cache.record_success(get_store(), run.run_id, pipeline, step, key) == []
    return run.run_id


def test_lookup_decisions_and_reasons(workspace, pipeline: Pipeline, tmp_path: Path):
    store = get_store()
    step = pipeline.steps["s"]
    key = cache.step_key(pipeline, step, {"lr": 0.1}, "env1")
    assert cache.lookup(store, pipeline, step, key).reason == "no earlier run"

    # declared outputs missing: nothing is recorded, the run cannot be reused
    with nbmlops.start_run(name="s", tags={cache.KEY_TAG: key.key}) as run:
        pass
    assert cache.record_success(store, run.run_id, pipeline, step, key) == ["out.csv"]
    assert not cache.lookup(store, pipeline, step, key).cached

    write(tmp_path / "out.csv", "result\n")
    run_id = _recorded_run(pipeline, key)
    hit = cache.lookup(store, pipeline, step, key)
    assert hit.cached and hit.run_id == run_id
    assert (
        hit.reason
        == f"cached: same notebook, parameters, inputs and environment as run {run_id[:8]}"
    )
    assert cache.lookup(store, pipeline, step, key, force=True).reason == "forced (--force)"

    write(tmp_path / "out.csv", "tampered\n")
    assert (
        cache.lookup(store, pipeline, step, key).reason
        == f"output out.csv changed since run {run_id[:8]}"
    )
    write(tmp_path / "out.csv", "result\n")

    other = cache.step_key(pipeline, step, {"lr": 0.5}, "env2")
    assert cache.lookup(store, pipeline, step, other).reason == (
        "parameters changed (lr 0.1 -> 0.5); "
        "environment changed (Python, platform or installed packages)"
    )
    notebook(tmp_path / "s.ipynb", "lr = 0.1", "pass  # edited")
    write(tmp_path / "in.csv", "2\n")
    edited = cache.step_key(pipeline, step, {"lr": 0.1}, "env1")
    assert cache.lookup(store, pipeline, step, edited).reason == (
        "notebook s.ipynb changed; input in.csv changed"
    )
