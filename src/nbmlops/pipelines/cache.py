"""Step caching: skip a step whose notebook, parameters, inputs and environment are unchanged.

A step's *cache key* is the sha256 of what decides its result: the notebook's source (cell
types, sources and tags; outputs and execution counts ignored), its effective parameters, the sha256
of every declared input file, the tracking environment id (Python, platform and installed
package lock, see :mod:`nbmlops.tracking.environment`), and the step's definition (declared
outputs, gates, kernel). The key is stored on the step's run as the tag ``nbmlops.cache.key``;
after the step succeeds and its declared outputs exist, a record of the key's parts and of the
outputs' sha256 is stored as the run's artifact ``nbmlops/step.json`` and the run is tagged
``nbmlops.cache.outputs = recorded``.

Looking a step up is one store query (finished runs with that key tag); the step is skipped
when one of them recorded outputs that are still on disk unchanged. Either way the decision
comes with a reason in words: why it was skipped, or what changed since the last run.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..store import Store
from .spec import Pipeline, Step

KEY_TAG = "nbmlops.cache.key"
STEP_TAG = "nbmlops.pipeline.step"
PIPELINE_TAG = "nbmlops.pipeline"
OUTPUTS_TAG = "nbmlops.cache.outputs"
RECORD_ARTIFACT = "nbmlops/step.json"
RECORDED = "recorded"
_CHUNK = 1 << 20
# How many finished runs with the same key to try before giving up on a cache hit.
_MAX_CANDIDATES = 5


# -- hashing -----------------------------------------------------------------------------------


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes; for a folder, of every file's relative path and digest."""
    path = Path(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
            digest.update(file_digest(file).encode() + b"\n")
        return "dir:" + digest.hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def notebook_digest(path: str | os.PathLike) -> str:
    """sha256 of what a notebook runs (cell types, sources and nbmlops/papermill tags): running
    or re-saving it keeps the digest, editing a cell changes it. The same hash ``run_notebook``
    records."""
    from ._prepare import notebook_hash

    return notebook_hash(Path(path))


def notebook_parameter_names(path: str | os.PathLike) -> set[str] | None:
    """Names assigned in the notebook's cell tagged ``parameters``; None without such a cell
    or when that cell is not Python."""
    from ._prepare import cell_source, cell_tags, read_cells

    for cell in read_cells(path):
        if cell.get("cell_type") == "code" and "parameters" in cell_tags(cell):
            try:
                tree = ast.parse(cell_source(cell))
            except SyntaxError:
                return None
            names: set[str] = set()
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else []
                if isinstance(node, ast.AnnAssign):
                    targets = [node.target]
                for target in targets:
                    for sub in ast.walk(target):
                        if isinstance(sub, ast.Name):
                            names.add(sub.id)
            return names
    return None


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)


def environment_id() -> str:
    from ..tracking.environment import current_environment

    return current_environment().env_id


# -- the key -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StepKey:
    """What decides a step's result, and the cache key made of it."""

    step: str
    notebook: str  # notebook digest
    parameters: Mapping[str, Any]
    inputs: Mapping[str, str]  # declared input -> digest
    environment: str
    definition: str  # digest of outputs, gates and kernel
    key: str

    def record(self, outputs: Mapping[str, str]) -> dict[str, Any]:
        """What is stored on a successful step run."""
        return {
            "key": self.key,
            "step": self.step,
            "notebook": self.notebook,
            "parameters": json.loads(canonical_json(dict(self.parameters))),
            "inputs": dict(self.inputs),
            "environment": self.environment,
            "definition": self.definition,
            "outputs": dict(outputs),
        }


def step_key(
    pipeline: Pipeline, step: Step, parameters: Mapping[str, Any], env_id: str | None = None
) -> StepKey:
    """The cache key of ``step`` now (its inputs must exist)."""
    inputs = {item: file_digest(pipeline.resolve(item)) for item in step.inputs}
    definition = hashlib.sha256(
        canonical_json(
            {"outputs": list(step.outputs), "gates": list(step.gates), "kernel": step.kernel}
        ).encode()
    ).hexdigest()
    parts = {
        "step": step.name,
        "notebook": notebook_digest(pipeline.resolve(step.notebook)),
        "parameters": canonical_json(dict(parameters)),
        "inputs": inputs,
        "environment": env_id or environment_id(),
        "definition": definition,
    }
    key = hashlib.sha256(canonical_json(parts).encode()).hexdigest()
    return StepKey(
        step=step.name,
        notebook=parts["notebook"],
        parameters=dict(parameters),
        inputs=inputs,
        environment=parts["environment"],
        definition=definition,
        key=key,
    )


def step_id(pipeline: Pipeline, step: Step) -> str:
    """What identifies a step across runs of its pipeline: ``<pipeline name>/<step name>``."""
    return f"{pipeline.name}/{step.name}"


def output_digests(pipeline: Pipeline, step: Step) -> tuple[dict[str, str], list[str]]:
    """``(digests of the declared outputs that exist, declared outputs that are missing)``."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for item in step.outputs:
        path = pipeline.resolve(item)
        if path.exists():
            found[item] = file_digest(path)
        else:
            missing.append(item)
    return found, missing


# -- the decision ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CacheDecision:
    """Whether a step can be skipped, and why (or why not)."""

    cached: bool
    reason: str
    run_id: str | None = None  # the earlier run that is reused, when cached


def _record_of(store: Store, run_id: str) -> dict | None:
    from ..errors import NbmlopsError
    from ..tracking.run import Run

    try:
        return json.loads(Run(store, run_id).read_text(RECORD_ARTIFACT))
    except (NbmlopsError, ValueError, OSError):
        return None


def _outputs_unchanged(pipeline: Pipeline, recorded: Mapping[str, str]) -> str | None:
    """None when every recorded output is on disk with its recorded digest, else what is not."""
    for item, digest in recorded.items():
        path = pipeline.resolve(item)
        if not path.exists():
            return f"output {item} is missing"
        if file_digest(path) != digest:
            return f"output {item} changed"
    return None


def lookup(
    store: Store, pipeline: Pipeline, step: Step, key: StepKey, force: bool = False
) -> CacheDecision:
    """Decide whether ``step`` can be skipped, with the reason in words."""
    if force:
        return CacheDecision(False, "forced (--force)")
    candidates = store.meta.runs_with_tags(
        {KEY_TAG: key.key, OUTPUTS_TAG: RECORDED}, status="FINISHED", limit=_MAX_CANDIDATES
    )
    output_problem = None
    for candidate in candidates:
        record = _record_of(store, candidate["run_id"])
        if record is None or record.get("key") != key.key:
            continue
        problem = _outputs_unchanged(pipeline, record.get("outputs", {}))
        if problem is None:
            short = candidate["run_id"][:8]
            return CacheDecision(
                True,
                f"cached: same notebook, parameters, inputs and environment as run {short}",
                candidate["run_id"],
            )
        output_problem = output_problem or f"{problem} since run {candidate['run_id'][:8]}"
    if output_problem:
        return CacheDecision(False, output_problem)
    return CacheDecision(False, _what_changed(store, pipeline, step, key))


def _what_changed(store: Store, pipeline: Pipeline, step: Step, key: StepKey) -> str:
    """Why no earlier run matches: the differences from the step's last successful run."""
    ident = step_id(pipeline, step)
    earlier = store.meta.runs_with_tags({STEP_TAG: ident}, limit=20)
    if not earlier:
        return "no earlier run"
    record = None
    for row in earlier:
        if row["status"] == "FINISHED":
            record = _record_of(store, row["run_id"])
            if record is not None:
                break
    if record is None:
        last = earlier[0]
        return f"no earlier successful run (last run {last['run_id'][:8]} {last['status']})"
    reasons = []
    if record.get("notebook") != key.notebook:
        reasons.append(f"notebook {step.notebook} changed")
    old_params = record.get("parameters", {})
    new_params = json.loads(canonical_json(dict(key.parameters)))
    if old_params != new_params:
        changes = [
            f"{name} {_shown(old_params, name)} -> {_shown(new_params, name)}"
            for name in sorted(set(old_params) | set(new_params))
            if old_params.get(name, ...) != new_params.get(name, ...)
        ]
        reasons.append("parameters changed (" + ", ".join(changes) + ")")
    old_inputs = record.get("inputs", {})
    for item, digest in key.inputs.items():
        if item not in old_inputs:
            reasons.append(f"new input {item}")
        elif old_inputs[item] != digest:
            reasons.append(f"input {item} changed")
    for item in old_inputs:
        if item not in key.inputs:
            reasons.append(f"input {item} no longer declared")
    if record.get("environment") != key.environment:
        reasons.append("environment changed (Python, platform or installed packages)")
    if record.get("definition") != key.definition:
        reasons.append("step definition changed (outputs, gates or kernel)")
    if not reasons:  # same key, but its outputs were not recorded as complete
        reasons.append("no complete earlier run with these inputs")
    return "; ".join(reasons)


def _shown(params: Mapping[str, Any], name: str) -> str:
    return repr(params[name]) if name in params else "(unset)"


def record_success(
    store: Store, run_id: str, pipeline: Pipeline, step: Step, key: StepKey
) -> list[str]:
    """After a step ran: check its declared outputs exist, store their digests on the run.

    Returns the declared outputs that are missing (nothing is recorded then).
    """
    from ..tracking.run import Run

    outputs, missing = output_digests(pipeline, step)
    if missing:
        return missing
    run = Run(store, run_id)
    run.log_dict(key.record(outputs), RECORD_ARTIFACT)
    run.set_tags({OUTPUTS_TAG: RECORDED})
    return []
