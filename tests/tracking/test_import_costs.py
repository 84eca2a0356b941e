"""What ``import nbmlops`` and ``import nbmlops.tracking`` (and a first run in an existing
workspace) may import: the modules that would make them slow are pinned out, checked on
``sys.modules`` of a fresh process, not on timings (issue 18)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbmlops

# Each costs tens to hundreds of milliseconds at import; none is needed to track a run.
HEAVY = {
    "IPython",
    "dask",
    "duckdb",
    "fsspec",  # only for artifacts on an object store (s3://, gs://, ...)
    "ipywidgets",
    "jinja2",
    "matplotlib",
    "mlflow",
    "numpy",
    "pandas",
    "plotly",
    "psycopg",
    "pyarrow",
    "scipy",
    "skops",
    "sklearn",
    "sqlalchemy.dialects.postgresql",  # with asyncio: only for a PostgreSQL store
    "yaml",
}

_PROBE = textwrap.dedent(
    """
    import json, sys
    steps = {}
    import nbmlops
    steps["import nbmlops"] = sorted(sys.modules)
    import nbmlops.tracking
    steps["import nbmlops.tracking"] = sorted(sys.modules)
    if sys.argv[1] == "run":
        with nbmlops.start_run() as run:
            run.log_params({"alpha": 0.5})
            run.log_metrics({"loss": 0.25})
            run.log_text("hello", "note.txt")
        steps["a run with a param, a metric and a text"] = sorted(sys.modules)
    print(json.dumps(steps))
    """
)


def _imported(workspace: Path, *args: str) -> dict[str, set[str]]:
    env = {**os.environ, "NBMLOPS_HOME": str(workspace)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        env=env,
        cwd=workspace.parent,  # outside any git repository
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout.splitlines()[-1])
    return {step: {m for m in HEAVY if m in set(mods)} for step, mods in steps.items()}


def test_imports_and_a_first_run_load_nothing_heavy(workspace: Path):
    with nbmlops.start_run():  # the workspace exists: its schema is not created again
        pass
    found = _imported(workspace, "run")
    assert found == {step: set() for step in found}, found
    assert len(found) == 3
