"""Run ``python -m nbmlops ARGS`` in a fresh process and report which heavy modules it
imported: a structural check of the command line's speed that does not depend on timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Each costs from a few hundred milliseconds (pandas, sqlalchemy) to seconds (jsonschema,
# imported by nbformat's validator, compiles dozens of grammars at import).
HEAVY = (
    "IPython",
    "jsonschema",
    "mlflow",
    "nbformat",
    "numpy",
    "pandas",
    "papermill",
    "plotly",
    "sklearn",
    "sqlalchemy",
)

_PROBE = """\
import json, runpy, sys
args, heavy, report = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
sys.argv = ["nbmlops", *args]
code = 0
try:
    runpy.run_module("nbmlops", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
with open(report, "w") as fh:
    json.dump(sorted({m.split(".")[0] for m in sys.modules} & set(heavy)), fh)
sys.exit(code)
"""


def run_cli(
    workspace: Path, *args: str, cwd: Path | None = None, stdin: str = ""
) -> tuple[subprocess.CompletedProcess, set[str]]:
    """``(the finished process, the heavy top-level packages it imported)``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBMLOPS_")}
    env["NBMLOPS_HOME"] = str(workspace)
    report = Path(workspace).parent / f"imports-{os.getpid()}-{len(args)}.json"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(args)), json.dumps(HEAVY), str(report)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        input=stdin,
        timeout=300,
    )
    imported = set(json.loads(report.read_text())) if report.exists() else {"<no report>"}
    report.unlink(missing_ok=True)
    return done, imported
