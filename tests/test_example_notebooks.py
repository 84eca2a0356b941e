"""Every example notebook runs top to bottom under papermill, in a throwaway workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

import nbmlops

NOTEBOOKS = sorted((Path(__file__).parent.parent / "example_notebooks").glob("[0-9]*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_example_notebook_runs_under_papermill(notebook: Path, workspace: Path, tmp_path: Path):
    import papermill

    output = tmp_path / notebook.name
    # The kernel inherits NBMLOPS_HOME from the workspace fixture: the repository is untouched.
    papermill.execute_notebook(
        str(notebook),
        str(output),
        kernel_name="python3",
        cwd=str(notebook.parent),
        progress_bar=False,
    )
    frame = nbmlops.runs()
    assert len(frame) >= 3, "the example tracks several cells"
    assert set(frame["status"]) == {"FINISHED"}
    assert frame["metrics.accuracy"].notna().any()
