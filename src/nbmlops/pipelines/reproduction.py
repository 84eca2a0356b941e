"""``reproduce(run_id)``: re-execute a recorded run in a fresh kernel and say what differs.

Two kinds of runs can be re-executed:

- a notebook run (``run_notebook``, a pipeline step, a sweep run): the notebook as it was
  recorded (the ``notebook/input.ipynb`` artifact; the file on disk if that is missing) runs
  again with the same parameters, kernel and working directory;
- a tracked cell (``%%track``): its recorded code runs as the only tracked cell of a new
  notebook (``%load_ext nbmlops`` + ``%%track``) in a fresh kernel. What the cell took from
  earlier cells is rebuilt first when ``%%track`` could record it (see
  :mod:`nbmlops.tracking.inherited`): simple values (numbers, strings, small lists …) are
  assigned again and modules and importable functions imported again; every other value
  (a DataFrame, a model, a function defined in the notebook) is named as a difference of kind
  ``inherited``, and the cell fails without it (reproduce the notebook run instead).
  ``--params``/``--metrics`` options of the magic line are not recorded, so the automatic
  capture rules apply.

Then the original and the new run are compared: status, params, metrics (within
``tolerance``, relative and absolute), the fingerprints of inputs (data read, files opened)
and outputs, the notebook source, the environment (Python, packages) and git state.
``reproduced`` is true when the new run succeeded with the same params and metrics;
``differences`` lists everything that differs, e.g. ``input data.csv: fingerprint changed``.
"""

from __future__ import annotations

import dataclasses
import html
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import NotReproducible
from ..tracking import get_run
from ..tracking.inherited import read as read_inherited
from ..tracking.run import Run
from .notebook import INPUT_ARTIFACT, _run
from .result import EXECUTION_FAILED, PipelineRun

# Differences of these kinds mean the run did not reproduce; others explain or warn.
_BREAKING = ("status", "metric", "param")


@dataclasses.dataclass(frozen=True)
class Difference:
    """One thing that differs between the original run and its re-execution."""

    kind: str  # status, metric, param, inherited, input, output, notebook, environment, git
    name: str
    original: Any
    reproduced: Any
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.detail}"


@dataclasses.dataclass
class Reproduction:
    """The outcome of :func:`reproduce`."""

    run_id: str
    new_run_id: str | None
    kind: str  # "notebook" or "cell"
    tolerance: float
    differences: list[Difference]
    execution: PipelineRun | None = None

    @property
    def reproduced(self) -> bool:
        """The re-execution succeeded with the same params and metrics (within tolerance)."""
        return not any(d.kind in _BREAKING for d in self.differences)

    @property
    def identical(self) -> bool:
        """Nothing differs at all: also inputs, outputs, source, environment and git."""
        return not self.differences

    def to_frame(self):
        """The differences as a DataFrame: ``kind, name, original, reproduced, detail``."""
        import pandas as pd

        return pd.DataFrame(
            [dataclasses.asdict(d) for d in self.differences],
            columns=["kind", "name", "original", "reproduced", "detail"],
        )

    def summary(self) -> str:
        new = f" as {self.new_run_id[:8]}" if self.new_run_id else ""
        head = f"run {self.run_id[:8]} ({self.kind}) re-executed{new}"
        if self.identical:
            return (
                f"reproduced: {head}; metrics match within {self.tolerance:g}, and inputs, "
                "outputs, source, environment and git state are the same"
            )
        if self.reproduced:
            lines = [
                f"reproduced: {head}; metrics match within {self.tolerance:g}, but "
                f"{len(self.differences)} other thing(s) differ:"
            ]
        else:
            lines = [f"NOT reproduced: {head}; {len(self.differences)} difference(s):"]
        lines += [f"  {d}" for d in self.differences]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<Reproduction {self.summary()}>"

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.reproduced else "#cf222e"
        word = "reproduced" if self.reproduced else "NOT reproduced"
        head = (
            f'<b style="color:{color}">{word}</b>: run <code>{html.escape(self.run_id[:8])}'
            f"</code> ({html.escape(self.kind)})"
        )
        if self.identical:
            return f"<div>{head}; nothing differs</div>"
        return f"<div>{head}{self.to_frame().to_html(index=False, escape=True)}</div>"


def reproduce(
    run_id: str,
    tolerance: float = 1e-6,
    *,
    cwd: str | os.PathLike | None = None,
    kernel: str | None = None,
    timeout: float | None = None,
) -> Reproduction:
    """Re-execute run ``run_id`` in a fresh kernel and compare it with the original.

    ``tolerance`` bounds the relative and absolute difference of each metric. ``cwd`` is
    where the kernel runs (default: the recorded working directory of a notebook run; for a
    tracked cell, the folder its files were read from, else the notebook's folder, else this
    process's working directory).

    >>> import nbmlops
    >>> print(nbmlops.reproduce("3f2a9c"))  # doctest: +SKIP
    NOT reproduced: run 3f2a9c1e (cell) re-executed as 77b0e2d4; 2 difference(s):
      metric total: 4 → 40 (beyond tolerance 1e-06)
      input data.csv: fingerprint changed (b9485148… → 0c61d4b5…)
    """
    if not isinstance(tolerance, (int, float)) or not tolerance >= 0:
        raise NotReproducible(str(run_id), f"tolerance must be a number >= 0, got {tolerance!r}")
    original = get_run(run_id)
    tags = original.tags
    if "nbmlops.notebook" in tags:
        return _reproduce_notebook(original, tags, float(tolerance), cwd, kernel, timeout)
    if original.code:
        return _reproduce_cell(original, float(tolerance), cwd, kernel, timeout)
    raise NotReproducible(
        original.run_id,
        f"run {original.run_id[:8]} cannot be re-executed: it has no recorded notebook and no "
        "tracked cell code. Only runs made by nbmlops.run_notebook (or `nbmlops run`) and "
        "%%track cells can be reproduced",
    )


def _reproduce_notebook(original: Run, tags, tolerance, cwd, kernel, timeout) -> Reproduction:
    from ._prepare import notebook_hash

    record_path = Path(tags["nbmlops.notebook"])
    differences: list[Difference] = []
    scratch = Path(tempfile.mkdtemp(prefix="nbmlops-reproduce-"))
    try:
        execute_path = scratch / record_path.name
        if INPUT_ARTIFACT in original.artifacts:
            execute_path.write_bytes(original.read_artifact(INPUT_ARTIFACT))
        elif record_path.is_file():
            shutil.copyfile(record_path, execute_path)
        else:
            raise NotReproducible(
                original.run_id,
                f"run {original.run_id[:8]}: the notebook {record_path} no longer exists and no "
                "copy of it was stored with the run",
            )
        recorded = tags.get("nbmlops.notebook_hash")
        if record_path.is_file() and recorded:
            current = notebook_hash(record_path)
            if current != recorded:
                differences.append(
                    Difference(
                        "notebook",
                        str(record_path),
                        recorded,
                        current,
                        f"the notebook changed since the run (source hash {recorded[:12]}… → "
                        f"{current[:12]}…); the recorded version was re-executed",
                    )
                )
        work_dir = cwd or tags.get("nbmlops.cwd") or record_path.parent
        result = _run(
            execute_path,
            record_path,
            original.params,
            None,
            original.experiment,
            kernel or tags.get("nbmlops.kernel"),
            work_dir if Path(work_dir).is_dir() else None,
            timeout,
            None,
            allow_unknown=True,
            parent_run_id=None,
            name=f"reproduce {original.name or original.run_id[:8]}",
            tags={"nbmlops.kind": "reproduce", "nbmlops.reproduces": original.run_id},
            raise_on_failure=False,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    new = get_run(result.run_id)
    differences += _status(result, None)
    differences += _compare_values("param", original.params, new.params, None)
    differences += _compare_values("metric", original.metrics, new.metrics, tolerance)
    differences += _compare_data(_tree_data(original), _tree_data(new))
    differences += _compare_context(original, new)
    return Reproduction(original.run_id, new.run_id, "notebook", tolerance, differences, result)


def _reproduce_cell(original: Run, tolerance, cwd, kernel, timeout) -> Reproduction:
    import nbformat

    code = original.code or ""
    work_dir = Path(cwd) if cwd is not None else _cell_cwd(original)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel or "python3", "display_name": "", "language": ""}
    name = original.name or f"reproduce-{original.run_id[:8]}"
    inherited = read_inherited(original)
    setup = inherited.setup_code()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext nbmlops"),
        *([nbformat.v4.new_code_cell(setup)] if setup else []),
        nbformat.v4.new_code_cell(f"%%track --name {_quote(name)}\n{code}"),
    ]
    missing = [
        Difference(
            "inherited",
            key,
            entry.get("type"),
            None,
            f"defined by an earlier cell ({entry.get('type')}"
            + (f", fingerprint {entry['digest'][:8]}…" if entry.get("digest") else "")
            + (f", fitted by run {entry['fitted_by'][:8]}" if entry.get("fitted_by") else "")
            + "); it cannot be rebuilt when the cell runs alone: reproduce the notebook run",
        )
        for key, entry in inherited.objects.items()
    ]
    scratch = Path(tempfile.mkdtemp(prefix="nbmlops-reproduce-"))
    try:
        execute_path = scratch / f"reproduce-{original.run_id[:8]}.ipynb"
        nbformat.write(nb, execute_path)
        result = _run(
            execute_path,
            execute_path,
            None,
            None,
            original.experiment,
            kernel,
            work_dir,
            timeout,
            None,
            allow_unknown=True,
            parent_run_id=None,
            name=f"reproduce {original.name or original.run_id[:8]}",
            tags={"nbmlops.kind": "reproduce", "nbmlops.reproduces": original.run_id},
            raise_on_failure=False,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not result.child_run_ids:
        differences = missing + _status(result, original) or [
            Difference("status", "run", original.status, None, "the cell made no run")
        ]
        return Reproduction(original.run_id, None, "cell", tolerance, differences, result)
    new = get_run(result.child_run_ids[0])
    differences = missing + _status(result, original)
    differences += _compare_values("param", original.params, new.params, None)
    differences += _compare_values("metric", original.metrics, new.metrics, tolerance)
    differences += _compare_data(_own_data(original), _own_data(new))
    differences += _compare_context(original, new)
    return Reproduction(original.run_id, new.run_id, "cell", tolerance, differences, result)


def _quote(text: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in text)
    return safe or "reproduced"


def _cell_cwd(original: Run) -> Path:
    """Where the cell ran: inferred from the files it read (name relative, path absolute)."""
    for name, data in original.inputs.items():
        path = data["info"].get("path") if data["kind"] == "file" else None
        if path and not os.path.isabs(name) and path.replace(os.sep, "/").endswith("/" + name):
            folder = Path(path[: -len(name)])
            if folder.is_dir():
                return folder
    source = original.info.get("source")
    if source and source.endswith(".ipynb") and Path(source).parent.is_dir():
        return Path(source).parent
    return Path.cwd()


def _status(result: PipelineRun, original: Run | None) -> list[Difference]:
    if result.outcome != EXECUTION_FAILED:
        return []
    error = result.error
    ename = getattr(error, "ename", type(error).__name__)
    evalue = getattr(error, "evalue", str(error))
    detail = f"the re-execution failed with {ename}: {evalue}"
    if original is not None and ename == "NameError":
        detail += (
            " — the cell uses a variable defined by an earlier cell; reproduce the notebook "
            "run (nbmlops.run_notebook) instead of the single cell"
        )
    return [
        Difference("status", "run", original.status if original else "FINISHED", "FAILED", detail)
    ]


def _same(a: float, b: float, tolerance: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def _compare_values(kind, before: dict, after: dict, tolerance: float | None) -> list[Difference]:
    out = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            out.append(Difference(kind, key, before[key], None, "not recorded by the re-execution"))
        elif key not in before:
            out.append(Difference(kind, key, None, after[key], "new in the re-execution"))
        elif tolerance is None:
            if before[key] != after[key]:
                out.append(
                    Difference(
                        kind, key, before[key], after[key], f"{before[key]!r} → {after[key]!r}"
                    )
                )
        elif not _same(float(before[key]), float(after[key]), tolerance):
            out.append(
                Difference(
                    kind,
                    key,
                    before[key],
                    after[key],
                    f"{before[key]:.6g} → {after[key]:.6g} (beyond tolerance {tolerance:g})",
                )
            )
    return out


def _own_data(run: Run) -> dict[tuple[str, str], dict]:
    data = {("input", k): v for k, v in run.inputs.items()}
    data.update({("output", k): v for k, v in run.outputs.items()})
    return data


def _tree_data(run: Run) -> dict[tuple[str, str], dict]:
    """Inputs and outputs of a run and its descendants (later runs win on a name clash)."""
    data = _own_data(run)
    for row in run._store.meta.descendant_runs(run.run_id):
        data.update(_own_data(Run(run._store, row["run_id"])))
    return data


def _compare_data(before: dict, after: dict) -> list[Difference]:
    out = []
    for direction, name in sorted(set(before) | set(after)):
        old, new = before.get((direction, name)), after.get((direction, name))
        if new is None:
            out.append(
                Difference(direction, name, old["digest"], None, "not seen in the re-execution")
            )
        elif old is None:
            out.append(Difference(direction, name, None, new["digest"], "new in the re-execution"))
        elif old["digest"] != new["digest"]:
            detail = f"fingerprint changed ({old['digest'][:8]}… → {new['digest'][:8]}…)"
            if old.get("shape") != new.get("shape") and old.get("shape") is not None:
                detail += f", shape {old['shape']} → {new['shape']}"
            out.append(Difference(direction, name, old["digest"], new["digest"], detail))
    return out


def _compare_context(before: Run, after: Run) -> list[Difference]:
    out = []
    old_git, new_git = before.git, after.git
    if old_git["commit"] != new_git["commit"]:
        out.append(
            Difference(
                "git",
                "commit",
                old_git["commit"],
                new_git["commit"],
                f"{(old_git['commit'] or 'none')[:12]} → {(new_git['commit'] or 'none')[:12]}",
            )
        )
    elif old_git["dirty"] != new_git["dirty"]:
        out.append(
            Difference(
                "git", "dirty", old_git["dirty"], new_git["dirty"], "uncommitted changes differ"
            )
        )
    old_env, new_env = before.environment, after.environment
    if old_env.get("python") != new_env.get("python"):
        out.append(
            Difference(
                "environment",
                "python",
                old_env.get("python"),
                new_env.get("python"),
                f"{old_env.get('python')} → {new_env.get('python')}",
            )
        )
    old_pk = _packages(old_env.get("packages", []))
    new_pk = _packages(new_env.get("packages", []))
    for pkg in sorted(set(old_pk) | set(new_pk)):
        if old_pk.get(pkg) != new_pk.get(pkg):
            out.append(
                Difference(
                    "environment",
                    pkg,
                    old_pk.get(pkg),
                    new_pk.get(pkg),
                    f"{old_pk.get(pkg) or 'not installed'} → {new_pk.get(pkg) or 'not installed'}",
                )
            )
    return out


def _packages(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        name, _, version = line.partition("==")
        if name:
            out[name] = version
    return out
