"""``pipeline.yaml``: the notebooks of a pipeline, what each needs, reads and writes.

.. code-block:: yaml

    name: churn                    # optional; default: the file's folder name
    experiment: churn              # optional; default: the workspace experiment
    parameters:                    # optional; given to every step whose notebook defines them
      seed: 42
    steps:
      prepare:
        notebook: prepare.ipynb    # relative to this file's folder
        inputs: [data/raw.csv]     # files (or folders) the step reads
        outputs: [data/clean.csv]  # files the step must write
      train:
        notebook: train.ipynb
        needs: [prepare]           # steps that must finish first
        parameters: {lr: 0.1}
        inputs: [data/clean.csv]
        outputs: [model.skops]
        gates: ["metrics.f1 >= 0.8"]

Everything is checked when the file is loaded (syntax, unknown keys, types, unknown or cyclic
``needs``, missing notebooks, an output declared twice, a step reading a file that another step
writes without needing it) and each error names the place and the fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import graphlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import PipelineCycle, PipelineError

PIPELINE_KEYS = ("name", "experiment", "parameters", "steps")
STEP_KEYS = (
    "notebook",
    "parameters",
    "needs",
    "inputs",
    "outputs",
    "gates",
    "kernel",
    "timeout",
)
# A per-cell timeout beyond this (~31 years) is a mistake, not a limit: None means no limit.
MAX_TIMEOUT_S = 10**9
_STEP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")  # fullmatch: no trailing newline


@dataclasses.dataclass(frozen=True)
class Step:
    """One notebook of a pipeline. Paths are relative to the pipeline's folder (POSIX form)."""

    name: str
    notebook: str
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    needs: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    gates: tuple[str, ...] = ()
    kernel: str | None = None
    timeout: float | None = None


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """A validated pipeline: its steps in file order, and the folder its paths are relative to.

    >>> from nbmlops.pipelines import Pipeline
    >>> pipeline = Pipeline.load("pipeline.yaml")  # doctest: +SKIP
    >>> pipeline.order()  # doctest: +SKIP
    ['prepare', 'train', 'evaluate']
    """

    root: Path
    steps: Mapping[str, Step]
    name: str
    experiment: str | None = None
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    path: Path | None = None

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike) -> Pipeline:
        """Read and validate a ``pipeline.yaml``."""
        from .. import _args

        file = _args.path(path, "pipeline path").expanduser()
        if file.is_dir():
            file = file / "pipeline.yaml"
        if not file.is_file():
            raise PipelineError(
                f"pipeline file {str(file)!r} does not exist; give the path of a pipeline.yaml "
                "(see docs/pipelines.md for its format)",
                path=str(file),
            )
        file = file.resolve()
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PipelineError(f"cannot read {file}: {exc}", path=str(file)) from None
        data = _parse_yaml(text, str(file))
        return cls.from_dict(data, root=file.parent, path=file)

    @classmethod
    def from_dict(
        cls,
        data: Any,
        root: str | os.PathLike = ".",
        path: str | os.PathLike | None = None,
    ) -> Pipeline:
        """Validate a pipeline given as a dict (the parsed YAML); paths are relative to ``root``."""
        where = str(path) if path is not None else "pipeline"
        root_path = Path(root).expanduser().resolve()
        if not isinstance(data, Mapping):
            raise PipelineError(
                f"{where}: the top level must be a mapping with a 'steps' key, not {_kind(data)}",
                path=where,
            )
        _no_unknown_keys(data, PIPELINE_KEYS, f"{where}: top level", where)
        raw_steps = data.get("steps")
        if isinstance(raw_steps, list):
            raise PipelineError(
                f"{where}: 'steps' must be a mapping of step name to step (e.g. "
                "'steps:\\n  train:\\n    notebook: train.ipynb'), not a list",
                path=where,
            )
        if not isinstance(raw_steps, Mapping) or not raw_steps:
            raise PipelineError(
                f"{where}: 'steps' is missing or empty; declare at least one step with a notebook",
                path=where,
            )
        name = data.get("name")
        if name is None:
            name = (Path(path).resolve().parent.name if path else root_path.name) or "pipeline"
        name = _string(name, f"{where}: 'name'", where)
        experiment = data.get("experiment")
        if experiment is not None:
            experiment = _string(experiment, f"{where}: 'experiment'", where)
        parameters = _parameters(data.get("parameters"), f"{where}: 'parameters'", where)
        steps = {
            str(step_name): _step(step_name, raw, root_path, where)
            for step_name, raw in raw_steps.items()
        }
        pipeline = cls(
            root=root_path,
            steps=steps,
            name=name,
            experiment=experiment,
            parameters=parameters,
            path=Path(path).resolve() if path is not None else None,
        )
        pipeline._check_graph()
        return pipeline

    # -- graph ---------------------------------------------------------------------------------

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "pipeline"

    def order(self) -> list[str]:
        """Step names in an order where every step comes after the steps it needs.

        Ties keep the file's order, so the same file always gives the same order.
        """
        position = {name: i for i, name in enumerate(self.steps)}
        sorter = graphlib.TopologicalSorter({n: s.needs for n, s in self.steps.items()})
        sorter.prepare()
        out: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=position.__getitem__)
            out.extend(ready)
            sorter.done(*ready)
        return out

    def upstream(self, name: str) -> set[str]:
        """Every step that ``name`` needs, directly or through other steps."""
        seen: set[str] = set()
        todo = list(self.steps[name].needs)
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(self.steps[current].needs)
        return seen

    def downstream(self, name: str) -> set[str]:
        """Every step that needs ``name``, directly or through other steps."""
        return {other for other in self.steps if name in self.upstream(other)}

    def producers(self) -> dict[str, str]:
        """Declared output path -> the step that writes it."""
        return {out: step.name for step in self.steps.values() for out in step.outputs}

    def resolve(self, relative: str) -> Path:
        """The absolute path of a path declared in the pipeline."""
        return (self.root / relative).resolve()

    def missing_inputs(self) -> dict[str, list[str]]:
        """Inputs that neither exist now nor are written by a step: step name -> paths."""
        produced = self.producers()
        missing: dict[str, list[str]] = {}
        for step in self.steps.values():
            for item in step.inputs:
                if item not in produced and not self.resolve(item).exists():
                    missing.setdefault(step.name, []).append(item)
        return missing

    def check_inputs(self) -> None:
        """Raise :class:`PipelineError` when a step reads a file nothing provides."""
        missing = self.missing_inputs()
        if missing:
            step, paths = next(iter(missing.items()))
            raise PipelineError(
                f"{self.where}: input {paths[0]!r} of step {step!r} does not exist (looked for "
                f"{self.resolve(paths[0])}) and no step declares it as an output; create the "
                "file, fix the path, or add it to the outputs of the step that writes it",
                path=self.where,
                step=step,
            )

    def _check_graph(self) -> None:
        where = self.where
        for step in self.steps.values():
            for need in step.needs:
                if need not in self.steps:
                    raise PipelineError(
                        f"{where}: step {step.name!r} needs {need!r}, which is not a step of "
                        f"this pipeline{_did_you_mean(need, self.steps)}; steps are: "
                        f"{', '.join(self.steps)}",
                        path=where,
                        step=step.name,
                    )
        sorter = graphlib.TopologicalSorter({n: s.needs for n, s in self.steps.items()})
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            # graphlib gives the cycle backwards (each node is needed by the previous one).
            cycle = list(reversed(exc.args[1]))
            raise PipelineCycle(cycle, path=where) from None
        writers: dict[str, str] = {}
        for step in self.steps.values():
            for out in step.outputs:
                if out in writers:
                    raise PipelineError(
                        f"{where}: {out!r} is an output of both {writers[out]!r} and "
                        f"{step.name!r}; give each step its own output files",
                        path=where,
                        step=step.name,
                    )
                writers[out] = step.name
            both = sorted(set(step.inputs) & set(step.outputs))
            if both:
                raise PipelineError(
                    f"{where}: step {step.name!r} declares {both[0]!r} as both input and "
                    "output; a step that rewrites its own input cannot be cached: write the "
                    "result to a new file",
                    path=where,
                    step=step.name,
                )
        for step in self.steps.values():
            needed = self.upstream(step.name)
            for item in step.inputs:
                writer = writers.get(item)
                if writer is not None and writer not in needed:
                    raise PipelineError(
                        f"{where}: step {step.name!r} reads {item!r}, which step {writer!r} "
                        f"writes, but {step.name!r} does not need {writer!r}; add "
                        f"'needs: [{writer}]' to step {step.name!r} so it runs after the file "
                        "is written",
                        path=where,
                        step=step.name,
                    )


# -- parsing helpers ---------------------------------------------------------------------------


def _parse_yaml(text: str, where: str) -> Any:
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        keys = set()
        for key_node, _value in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in keys:
                mark = key_node.start_mark
                raise PipelineError(
                    f"{where}, line {mark.line + 1}: key {key!r} appears twice in the same "
                    "mapping; YAML would silently keep only the last one: rename or merge them",
                    path=where,
                )
            keys.add(key)
        return loader.construct_mapping(node, deep=deep)

    UniqueKeyLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping
    )
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        place = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise PipelineError(
            f"{where}{place}: invalid YAML ({problem}); fix the syntax (indent with spaces, "
            "quote values containing ': ' or '#')",
            path=where,
        ) from None
    except yaml.YAMLError as exc:
        raise PipelineError(f"{where}: invalid YAML ({exc})", path=where) from None


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"a {type(value).__name__} ({value!r:.60})"


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _no_unknown_keys(data: Mapping, allowed: tuple[str, ...], what: str, where: str) -> None:
    for key in data:
        if key not in allowed:
            raise PipelineError(
                f"{what}: unknown key {key!r}{_did_you_mean(key, allowed)}; allowed keys are "
                f"{', '.join(allowed)}",
                path=where,
            )


def _string(value: Any, what: str, where: str, step: str | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PipelineError(
            f"{what} must be a non-empty string, not {_kind(value)}", path=where, step=step
        )
    return value.strip()


def _strings(value: Any, what: str, where: str, step: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise PipelineError(
            f"{what} must be a list of strings, not {_kind(value)}", path=where, step=step
        )
    out = tuple(_string(v, f"{what} item", where, step) for v in value)
    duplicated = sorted({v for v in out if out.count(v) > 1})
    if duplicated:
        raise PipelineError(f"{what} lists {duplicated[0]!r} twice", path=where, step=step)
    return out


def _paths(value: Any, what: str, where: str, step: str) -> tuple[str, ...]:
    out = []
    for item in _strings(value, what, where, step):
        normal = Path(os.path.normpath(item)).as_posix()
        if normal in (".", ""):
            raise PipelineError(
                f"{what}: {item!r} is the pipeline folder itself; name a file or sub-folder",
                path=where,
                step=step,
            )
        out.append(normal)
    return tuple(out)


def _parameters(value: Any, what: str, where: str, step: str | None = None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PipelineError(
            f"{what} must be a mapping of parameter name to value, not {_kind(value)}",
            path=where,
            step=step,
        )
    for key in value:
        if not isinstance(key, str) or not key.isidentifier():
            raise PipelineError(
                f"{what}: parameter name {key!r} is not a Python identifier; notebooks receive "
                "parameters as variables",
                path=where,
                step=step,
            )
    return dict(value)


def _step(name: Any, raw: Any, root: Path, where: str) -> Step:
    if not isinstance(name, str) or not _STEP_NAME.fullmatch(name):
        raise PipelineError(
            f"{where}: step name {name!r} is invalid; use 1-100 letters, digits, '_', '-' or "
            "'.', starting with a letter or digit",
            path=where,
        )
    what = f"{where}: step {name!r}"
    if isinstance(raw, str):
        raw = {"notebook": raw}
    if not isinstance(raw, Mapping):
        raise PipelineError(
            f"{what} must be a mapping with at least 'notebook', not {_kind(raw)}",
            path=where,
            step=name,
        )
    _no_unknown_keys(raw, STEP_KEYS, what, where)
    if "notebook" not in raw:
        raise PipelineError(
            f"{what} has no 'notebook'; add 'notebook: {name}.ipynb' (relative to the pipeline "
            "file)",
            path=where,
            step=name,
        )
    notebook = Path(os.path.normpath(_string(raw["notebook"], f"{what}: 'notebook'", where, name)))
    if notebook.suffix != ".ipynb":
        raise PipelineError(
            f"{what}: notebook {notebook.as_posix()!r} is not a .ipynb file", path=where, step=name
        )
    if not (root / notebook).is_file():
        raise PipelineError(
            f"{what}: notebook {notebook.as_posix()!r} does not exist (looked for "
            f"{root / notebook}); paths are relative to the pipeline file's folder",
            path=where,
            step=name,
        )
    timeout = raw.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_TIMEOUT_S  # NaN and infinity compare false here
    ):
        raise PipelineError(
            f"{what}: 'timeout' must be a positive number of seconds per cell, at most "
            f"{MAX_TIMEOUT_S} (leave it out for no limit), not "
            f"{_kind(timeout)}",
            path=where,
            step=name,
        )
    kernel = raw.get("kernel")
    return Step(
        name=name,
        notebook=notebook.as_posix(),
        parameters=_parameters(raw.get("parameters"), f"{what}: 'parameters'", where, name),
        needs=_strings(raw.get("needs"), f"{what}: 'needs'", where, name),
        inputs=_paths(raw.get("inputs"), f"{what}: 'inputs'", where, name),
        outputs=_paths(raw.get("outputs"), f"{what}: 'outputs'", where, name),
        gates=_strings(raw.get("gates"), f"{what}: 'gates'", where, name),
        kernel=None if kernel is None else _string(kernel, f"{what}: 'kernel'", where, name),
        timeout=None if timeout is None else float(timeout),
    )
