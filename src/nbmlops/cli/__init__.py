"""The ``nbmlops`` command line: ``run NOTEBOOK``, ``runs ls|show|reproduce``,
``models ls|show|promote|rollback|delete|card|policy|requests|approve|reject``,
``features ls|show|materialize``, ``drift``, ``monitor run|ls|history|alerts``,
``audit verify|export|ls``, ``import mlflow``, ``export mlflow``, ``serve``, ``score``,
``rollout start|status|advance|pause|resume|abort``, ``doctor``, ``gc``.

Every command is a thin face over the Python API; errors print the nbmlops message (no
traceback) and exit with status 2.
"""

from __future__ import annotations

import click

from .approvals import COMMANDS as GOVERNANCE_COMMANDS
from .audit import audit
from .doctor import doctor
from .drift import drift
from .features import features
from .gc import gc_command
from .interop import export_group, import_group
from .models import models
from .monitor import monitor
from .pipelines import pipeline, sweep_command
from .rollout import rollout
from .run import reproduce_command, run_command
from .runs import runs
from .score import score_command
from .serve import serve_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nbmlops")
def main() -> None:
    """nbmlops: experiment runs, models and pipelines from your notebooks."""


# One module per command group; each imports what it needs when it runs.
for command in (runs, models, features, drift, monitor, run_command, pipeline, sweep_command):
    main.add_command(command)
main.add_command(audit)
main.add_command(serve_command)
main.add_command(rollout)
main.add_command(score_command)
main.add_command(doctor)
main.add_command(gc_command)
main.add_command(import_group)
main.add_command(export_group)
runs.add_command(reproduce_command)
for command in GOVERNANCE_COMMANDS:
    models.add_command(command)

__all__ = ["main"]


if __name__ == "__main__":  # pragma: no cover
    main()
