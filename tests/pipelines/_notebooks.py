"""Real notebooks for the notebook-run tests, written with nbformat."""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat


def cell(source: str, *tags: str):
    new = nbformat.v4.new_code_cell(textwrap.dedent(source).strip())
    if tags:
        new.metadata["tags"] = list(tags)
    return new


def write_notebook(path: Path, *cells) -> Path:
    """A python3 notebook of ``cells`` (strings, or cells made with :func:`cell`)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [cell(c) if isinstance(c, str) else c for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
