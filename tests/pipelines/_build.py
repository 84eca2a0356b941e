"""Building real notebooks and pipeline folders for the pipeline tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat


def notebook(path: Path, parameters: str | None, *cells: str) -> Path:
    """Write a Python notebook: an optional cell tagged ``parameters``, then code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(textwrap.dedent(parameters).strip())
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells += [nbformat.v4.new_code_cell(textwrap.dedent(c).strip()) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def three_steps(folder: Path) -> Path:
    """prepare (raw.csv -> clean.csv) -> train (-> model.txt) -> evaluate (+ holdout.csv)."""
    write(folder / "data" / "raw.csv", "1\n2\n3\n")
    write(folder / "data" / "holdout.csv", "10\n")
    notebook(
        folder / "prepare.ipynb",
        "scale = 1",
        """
        from pathlib import Path
        values = [float(x) * scale for x in Path("data/raw.csv").read_text().split()]
        Path("out").mkdir(exist_ok=True)
        Path("out/clean.csv").write_text("\\n".join(map(str, values)))
        """,
    )
    notebook(
        folder / "train.ipynb",
        "offset = 0.0",
        """
        from pathlib import Path
        import nbmlops
        values = [float(x) for x in Path("out/clean.csv").read_text().split()]
        total = sum(values) + offset
        Path("out/model.txt").write_text(str(total))
        with nbmlops.start_run(name="fit"):
            nbmlops.log_metric("total", total)
        """,
    )
    notebook(
        folder / "evaluate.ipynb",
        None,
        """
        from pathlib import Path
        import json
        import nbmlops
        total = float(Path("out/model.txt").read_text())
        holdout = float(Path("data/holdout.csv").read_text())
        score = total / holdout
        Path("out/report.json").write_text(json.dumps({"score": score}))
        with nbmlops.start_run(name="score"):
            nbmlops.log_metric("score", score)
        """,
    )
    return write(
        folder / "pipeline.yaml",
        """
        name: three
        steps:
          prepare:
            notebook: prepare.ipynb
            inputs: [data/raw.csv]
            outputs: [out/clean.csv]
          train:
            notebook: train.ipynb
            needs: [prepare]
            inputs: [out/clean.csv]
            outputs: [out/model.txt]
          evaluate:
            notebook: evaluate.ipynb
            needs: [train]
            inputs: [out/model.txt, data/holdout.csv]
            outputs: [out/report.json]
        """,
    )
