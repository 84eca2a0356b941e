"""reproduce(): re-executing tracked cells and notebook runs in fresh kernels."""

from __future__ import annotations

import pickle

import pytest
from click.testing import CliRunner

import nbmlops
from nbmlops.cli import main
from nbmlops.errors import NotReproducible

from ._notebooks import cell, write_notebook

CELL = """
import pandas as pd
df = pd.read_csv("data.csv")
total = float(df["x"].sum())
"""


@pytest.fixture
def tracked_cell(shell, tmp_path, monkeypatch):
    """A %%track cell that reads data.csv, run in this process's IPython shell."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("x\n1\n2\n3\n")
    shell.run_cell_magic("track", "--name sum-x --quiet", CELL)
    run = nbmlops.get_run(nbmlops.runs().run_id[0])
    assert run.metrics == {"total": 6.0}
    assert run.inputs["data.csv"]["kind"] == "file"  # the file the cell opened is an input
    return run


@pytest.mark.slow
def test_a_deterministic_tracked_cell_is_reproduced(tracked_cell):
    outcome = nbmlops.reproduce(tracked_cell.run_id)
    assert outcome.reproduced, outcome.summary()
    assert outcome.kind == "cell"
    new = nbmlops.get_run(outcome.new_run_id)
    assert new.code.strip() == CELL.strip() and new.metrics == {"total": 6.0}
    assert new.inputs["data.csv"]["digest"] == tracked_cell.inputs["data.csv"]["digest"]
    assert not [d for d in outcome.differences if d.kind in ("input", "output", "metric")]
    assert str(outcome).startswith("reproduced")
    assert pickle.loads(pickle.dumps(outcome.differences)) == outcome.differences


@pytest.mark.slow
def test_a_changed_data_file_is_named(tracked_cell, tmp_path):
    (tmp_path / "data.csv").write_text("x\n1\n2\n30\n")
    result = CliRunner().invoke(main, ["runs", "reproduce", tracked_cell.run_id[:10]])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("NOT reproduced")
    assert "metric total: 6 → 33" in result.output
    assert "input data.csv: fingerprint changed" in result.output


@pytest.mark.slow
def test_a_notebook_run_is_reproduced_and_a_source_change_is_reported(workspace, tmp_path):
    nb = write_notebook(
        tmp_path / "train.ipynb",
        cell("seed = 0", "parameters"),
        "%load_ext nbmlops",
        """
        %%track
        import random
        random.seed(seed)
        score = random.random()
        """,
    )
    original = nbmlops.run_notebook(nb, {"seed": 7})
    # Editing the notebook afterwards: the recorded version is what gets re-executed.
    write_notebook(nb, cell("seed = 0", "parameters"), "raise RuntimeError('edited')")

    outcome = nbmlops.reproduce(original.run_id)
    assert outcome.reproduced, outcome.summary()
    assert outcome.kind == "notebook"
    again = nbmlops.get_run(outcome.new_run_id)
    assert again.params == {"seed": 7}
    assert again.metrics == pytest.approx(original.metrics)
    assert again.tags["nbmlops.reproduces"] == original.run_id
    assert [d.kind for d in outcome.differences] == ["notebook"]
    assert "the notebook changed since the run" in outcome.summary()


def test_a_run_without_code_or_notebook_cannot_be_reproduced(workspace):
    with nbmlops.start_run() as run:
        nbmlops.log_metric("m", 1.0)
    with pytest.raises(NotReproducible, match="only runs made by nbmlops.run_notebook|Only runs"):
        nbmlops.reproduce(run.run_id)
