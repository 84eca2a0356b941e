"""What a tracked cell takes from earlier cells, so that it can be re-executed alone.

Before the cell runs, each name it needs (``CellPlan.needs``) that the user namespace holds is
sorted into one of three kinds:

- *params*: simple values (None, booleans, numbers, strings, and lists, tuples and dicts of
  them up to ``MAX_ITEMS`` items, ``MAX_DEPTH`` levels and ``MAX_JSON`` characters of JSON),
  recorded as the run's params of kind "inherited";
- *imports*: modules, and functions or classes importable from a module (not defined in the
  notebook), recorded as the import statement that rebuilds them;
- *objects*: anything else (DataFrames, models, functions defined in the notebook), recorded by
  type and, for data and scikit-learn estimators, fingerprint. Reproduction names each one it
  cannot rebuild. A model a tracked cell of this kernel fitted also names that run
  (``fitted_by``).

The record is the run's ``nbmlops/inherited.json`` artifact; the tag ``nbmlops.inherited``
lists the names of the inherited params.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
from collections.abc import Collection
from typing import Any

ARTIFACT = "nbmlops/inherited.json"
TAG = "nbmlops.inherited"
MAX_ITEMS = 100
MAX_DEPTH = 3
MAX_JSON = 2000


@dataclasses.dataclass
class Inherited:
    """The values a cell read from earlier cells, as recorded before it ran."""

    params: dict[str, Any] = dataclasses.field(default_factory=dict)  # JSON-ready copies
    tuples: list[str] = dataclasses.field(default_factory=list)  # params that were tuples
    imports: dict[str, str] = dataclasses.field(default_factory=dict)  # name → statement
    objects: dict[str, dict] = dataclasses.field(default_factory=dict)  # name → type, digest

    def __bool__(self) -> bool:
        return bool(self.params or self.imports or self.objects)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Inherited:
        return cls(
            dict(data.get("params", {})),
            list(data.get("tuples", [])),
            dict(data.get("imports", {})),
            dict(data.get("objects", {})),
        )

    def setup_code(self) -> str:
        """Python statements that rebuild the imports and params (not the objects)."""
        lines = list(self.imports.values())
        for name, value in self.params.items():
            literal = repr(tuple(value)) if name in self.tuples else repr(value)
            lines.append(f"{name} = {literal}")
        return "\n".join(lines)


def is_simple(value: Any, depth: int = 0) -> bool:
    """None, bool, finite numbers, str, and small lists/tuples/dicts (str keys) of them."""
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, int):
        return type(value) is int  # not an IntEnum or other subclass: it has behaviour
    if isinstance(value, float):
        return math.isfinite(value)
    if depth >= MAX_DEPTH or not isinstance(value, (list, tuple, dict)):
        return False
    if len(value) > MAX_ITEMS:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_simple(v, depth + 1) for k, v in value.items())
    return all(is_simple(v, depth + 1) for v in value)


def _import_statement(name: str, value: Any) -> str | None:
    """``import numpy as np`` for a module; ``from m import f as g`` for an importable
    function or class; None for anything defined in the notebook."""
    if isinstance(value, types.ModuleType):
        module = value.__name__
        if module == "__main__" or module not in sys.modules:
            return None
        return f"import {module}" if name == module else f"import {module} as {name}"
    if not isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
        return None
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", "")
    if not module or module == "__main__" or "." in qualname or module not in sys.modules:
        return None
    if getattr(sys.modules[module], qualname, None) is not value:
        return None  # not reachable by its own name (re-exported, replaced, generated)
    suffix = "" if name == qualname else f" as {name}"
    return f"from {module} import {qualname}{suffix}"


def collect(
    names: list[str],
    namespace: dict[str, Any],
    hidden: Collection[str] = (),
    digests: dict[str, str] | None = None,
) -> Inherited:
    """Sort the needed ``names`` the namespace holds (see the module docstring).

    ``digests`` are fingerprints already taken (the cell's input data), reused by name.
    """
    from .estimators import class_path, estimator_digest, is_estimator, run_that_fitted

    found = Inherited()
    for name in names:
        if name.startswith("_") or name in hidden or name not in namespace:
            continue  # IPython's own names (In, Out, _, get_ipython …) and builtins
        value = namespace[name]
        if is_simple(value):
            text = json.dumps(value)
            if len(text) <= MAX_JSON:
                found.params[name] = json.loads(text)  # a copy: the cell may mutate it
                if isinstance(value, tuple):
                    found.tuples.append(name)
                continue
        statement = _import_statement(name, value)
        if statement is not None:
            found.imports[name] = statement
            continue
        entry: dict[str, Any] = {"type": class_path(value), "digest": None}
        if digests and name in digests:
            entry["digest"] = digests[name]
        elif is_estimator(value):
            entry["digest"] = estimator_digest(value)
        fitted_by = run_that_fitted(value)
        if fitted_by is not None:  # a model a tracked cell of this kernel recorded
            entry["fitted_by"] = fitted_by
        found.objects[name] = entry
    return found


def read(run: Any) -> Inherited:
    """The inherited record of a run (empty for runs made before it existed)."""
    if ARTIFACT not in run.artifacts:
        return Inherited()
    return Inherited.from_dict(json.loads(run.read_artifact(ARTIFACT)))
