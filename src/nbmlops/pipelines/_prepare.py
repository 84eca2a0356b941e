"""Reading a notebook and preparing it for a pipeline run: hash, parameters, tags.

Tags (cell metadata ``tags``, as set in JupyterLab's property inspector):

- ``parameters`` — papermill's: the cell holding the defaults; passed parameters are injected
  in a new cell right after it.
- ``nbmlops:skip`` — exploration cells (plots, ``df.head()``…) removed from pipeline runs.
- ``nbmlops:gate`` — a cell of checks. Each top-level statement runs in turn; a failing
  ``assert`` (any ``AssertionError``) is recorded as a gate failure instead of stopping the
  notebook, and the run ends with a failed gate (see :mod:`nbmlops.pipelines.gates`).

Every prepared cell remembers its index in the source notebook (``metadata.nbmlops``), so an
error names the cell the user sees, not the one papermill shifted by injecting parameters.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..errors import InvalidNotebook, InvalidParameters

TAG_PARAMETERS = "parameters"
TAG_SKIP = "nbmlops:skip"
TAG_GATE = "nbmlops:gate"
TAG_INJECTED = "nbmlops:injected"
_HASHED_TAGS = (TAG_PARAMETERS, TAG_SKIP, TAG_GATE)
DEFAULT_KERNEL = "python3"

_END_OPEN_RUNS = """\
# Added by nbmlops.run_notebook: end the runs this notebook left open, so their last metrics
# are written before the kernel is shut down.
import nbmlops as _nbmlops

while _nbmlops.active_run() is not None:
    _nbmlops.end_run()
"""


def require_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path if a file is there, else :class:`InvalidNotebook` saying so.
    Cheap: the command line checks it before importing what executing needs."""
    file = Path(path)
    if not file.is_file():
        raise InvalidNotebook(
            f"no notebook at {str(file)!r}: give the path of an .ipynb file "
            f"(relative paths start from {os.getcwd()})",
            str(file),
        )
    return file


def read_notebook(path: str | os.PathLike):
    """The notebook at ``path`` (nbformat v4), or :class:`InvalidNotebook` saying what is wrong."""
    import nbformat

    file = require_file(path)
    try:
        nb = nbformat.read(file, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds of errors
        raise InvalidNotebook(
            f"{file} is not a readable notebook ({type(exc).__name__}: {exc}); "
            "open and save it in Jupyter to repair it",
            str(file),
        ) from None
    return nb


def read_cells(path: str | os.PathLike) -> list[dict]:
    """The cells of the notebook at ``path``, read as plain JSON.

    For hashing and finding the parameters cell no validation is needed, and nbformat's
    validator imports jsonschema, which costs seconds (it compiles dozens of grammars at
    import). Only a notebook older than format 4 goes through nbformat, to be converted.
    """
    file = Path(path)
    try:
        with open(file, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return list(read_notebook(file).cells)  # says what is wrong
    except (OSError, ValueError) as exc:
        raise InvalidNotebook(
            f"{file} is not a readable notebook ({type(exc).__name__}: {exc}); "
            "open and save it in Jupyter to repair it",
            str(file),
        ) from None
    if not isinstance(data, dict) or data.get("nbformat") != 4:
        return list(read_notebook(file).cells)  # old formats: nbformat converts them
    cells = data.get("cells")
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise InvalidNotebook(
            f"{file} is not a readable notebook (its 'cells' is not a list of cells); "
            "open and save it in Jupyter to repair it",
            str(file),
        )
    return cells


def cell_tags(cell) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return [str(t) for t in tags] if isinstance(tags, list) else []


def notebook_hash(nb_or_path: Any) -> str:
    """sha256 of what a notebook runs: each cell's type, source and nbmlops/papermill tags.

    Outputs, execution counts and other metadata are ignored, so executing or re-saving a
    notebook does not change its hash; editing a cell or tagging it ``nbmlops:skip`` does.
    """
    source_cells = (
        read_cells(nb_or_path) if isinstance(nb_or_path, (str, os.PathLike)) else nb_or_path.cells
    )
    cells = [
        [
            cell.get("cell_type"),
            cell_source(cell),
            sorted(t for t in cell_tags(cell) if t in _HASHED_TAGS),
        ]
        for cell in source_cells
    ]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def cell_source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def kernel_of(nb, kernel: str | None) -> str:
    """The kernel to run: the one asked for, else the notebook's, else ``python3``."""
    if kernel:
        return kernel
    spec = nb.get("metadata", {}).get("kernelspec", {}) or {}
    return spec.get("name") or DEFAULT_KERNEL


def check_parameters(
    path: str | os.PathLike, nb, parameters: dict[str, Any], allow_unknown: bool
) -> list[str]:
    """Refuse parameters the notebook cannot take; return the names it defines.

    A notebook without a cell tagged ``parameters`` takes none; a name its parameters cell
    does not assign is an error (papermill only warns) unless ``allow_unknown``.
    """
    import papermill

    if not isinstance(parameters, dict) or not all(isinstance(k, str) for k in parameters):
        raise InvalidNotebook(
            f"parameters is a dict of name -> value, got {type(parameters).__name__}", str(path)
        )
    has_cell = any(TAG_PARAMETERS in cell_tags(c) for c in nb.cells)
    if not has_cell:
        if parameters:
            raise InvalidParameters(
                f"{path}: cannot pass parameters {sorted(parameters)}: no cell is tagged "
                "'parameters'. In Jupyter, select the cell with the default values, open the "
                "property inspector (gear icon) and add the tag 'parameters'",
                str(path),
                sorted(parameters),
                [],
            )
        return []
    try:
        known = list(papermill.inspect_notebook(str(path)))
    except Exception as exc:  # noqa: BLE001 - papermill's translator errors vary
        raise InvalidNotebook(
            f"{path}: cannot read the parameters cell ({type(exc).__name__}: {exc})", str(path)
        ) from None
    unknown = sorted(set(parameters) - set(known))
    if unknown and not allow_unknown:
        raise InvalidParameters(
            f"{path}: unknown parameters {unknown}: the 'parameters' cell defines "
            f"{sorted(known) or 'nothing'}. Fix the name, add a default for it to the "
            "parameters cell, or pass allow_unknown=True (--allow-unknown) to inject it anyway",
            str(path),
            unknown,
            known,
        )
    return known


def prepare(nb):
    """A copy of ``nb`` ready to execute: skip cells removed, gate cells wrapped, source
    indexes remembered; and the number of gate cells."""
    out = copy.deepcopy(nb)
    cells = []
    gates = 0
    mentions_nbmlops = False
    for index, cell in enumerate(nb.cells):
        tags = cell_tags(cell)
        if TAG_SKIP in tags:
            continue
        new = copy.deepcopy(cell)
        new.setdefault("metadata", {})["nbmlops"] = {"source_index": index}
        if cell.get("cell_type") == "code":
            source = cell_source(cell)
            mentions_nbmlops = mentions_nbmlops or "nbmlops" in source or "%%track" in source
            if TAG_GATE in tags:
                gates += 1
                new["source"] = f"%%nbmlops_gate --cell {index}\n{source}"
        cells.append(new)
    if gates:
        cells.insert(0, _injected("%load_ext nbmlops"))
    if gates or mentions_nbmlops:
        cells.append(_injected(_END_OPEN_RUNS))
    out.cells = cells
    return out, gates


def _injected(source: str):
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [TAG_INJECTED]
    cell.metadata["nbmlops"] = {"source_index": None}
    return cell


def source_index(executed_nb, executed_index: int | None) -> int | None:
    """The index in the source notebook of cell ``executed_index`` of the executed one."""
    if executed_nb is None or executed_index is None:
        return None
    if not 0 <= executed_index < len(executed_nb.cells):
        return None
    meta = executed_nb.cells[executed_index].get("metadata", {}).get("nbmlops", {})
    return meta.get("source_index") if isinstance(meta, dict) else None


def failed_cell(executed_nb) -> int | None:
    """The index of the cell that stopped the executed notebook: the first with an error
    output, else the one papermill marked failed or running (a timeout, a dead kernel).

    Indexes papermill reports do not count the error-marker cells it inserts when it saves
    the notebook, so the saved notebook is searched instead.
    """
    if executed_nb is None:
        return None
    for index, cell in enumerate(executed_nb.cells):
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return index
    for index, cell in enumerate(executed_nb.cells):
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        if status in ("running", "failed"):
            return index
    return None
