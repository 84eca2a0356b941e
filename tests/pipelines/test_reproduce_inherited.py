"""reproduce() of a tracked cell that reads values defined by earlier cells."""

from __future__ import annotations

import pytest

import nbmlops

EARLIER = """
import pandas as pd
alpha = 0.5
columns = ("x",)
"""

CELL = """
df = pd.read_csv("data.csv")
total = float(df[list(columns)].sum().iloc[0]) * alpha
"""


@pytest.fixture
def tracked_cell(shell, tmp_path, monkeypatch):
    """A %%track cell reading `alpha`, `columns` and `pd` from an earlier cell and data.csv."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("x\n1\n2\n3\n")
    shell.run_cell(EARLIER).raise_error()
    shell.run_cell_magic("track", "--name scaled --quiet", CELL)
    run = nbmlops.get_run(nbmlops.runs().run_id[0])
    assert run.metrics == {"total": 3.0}
    assert run.params == {"alpha": 0.5, "columns": ["x"]}
    return run


@pytest.mark.slow
def test_a_cell_reading_earlier_values_reproduces_alone(tracked_cell, tmp_path):
    outcome = nbmlops.reproduce(tracked_cell.run_id)
    assert outcome.reproduced, outcome.summary()
    new = nbmlops.get_run(outcome.new_run_id)
    assert new.metrics == tracked_cell.metrics  # identical, not only within tolerance
    assert new.params == tracked_cell.params
    assert not [d for d in outcome.differences if d.kind in ("input", "inherited")]

    # The same cell after the data file changed: the file is named.
    (tmp_path / "data.csv").write_text("x\n1\n2\n30\n")
    changed = nbmlops.reproduce(tracked_cell.run_id)
    assert not changed.reproduced
    text = changed.summary()
    assert "metric total: 3 → 16.5" in text
    assert "input data.csv: fingerprint changed" in text


@pytest.mark.slow
def test_values_that_cannot_be_rebuilt_are_named(shell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shell.run_cell(
        "import pandas as pd\nframe = pd.DataFrame({'x': [1, 2]})\ndef double(v):\n"
        "    return 2 * v\n"
    ).raise_error()
    shell.run_cell_magic("track", "--quiet", "total = double(float(frame['x'].sum()))")
    run = nbmlops.get_run(nbmlops.runs().run_id[0])
    outcome = nbmlops.reproduce(run.run_id)
    assert not outcome.reproduced
    named = {d.name: d for d in outcome.differences if d.kind == "inherited"}
    assert set(named) == {"frame", "double"}
    assert "DataFrame, fingerprint " in named["frame"].detail  # pandas.core.frame.… on pandas 2
    assert "fingerprint" in named["frame"].detail
    assert "cannot be rebuilt" in named["double"].detail
