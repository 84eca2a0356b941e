"""Logging an artifact reads only the artifacts it could clash with (issue 18)."""

from __future__ import annotations

import pytest

import nbmlops
from nbmlops.errors import InvalidArtifactName
from nbmlops.store import metadata


def test_clashes_are_found_without_reading_every_name(backend, monkeypatch, tmp_path):
    read: list[list[str]] = []
    real = metadata._neighbours

    def spy(conn, run_id, names):
        found = real(conn, run_id, names)
        read.append(found)
        return found

    with nbmlops.start_run() as run:
        for i in range(120):
            run.log_text(str(i), f"texts/{i}.txt")
        run.log_text("x", "plots")
        run.log_text("x", "Plots/a.txt")  # another folder: names compare case-sensitively
        run.log_text("x", "plots.d/a.txt")
        monkeypatch.setattr(metadata, "_neighbours", spy)
        run.log_text("new", "texts/new.txt")
        assert read and all(found == [] for found in read)  # none of the 120 was read
        read.clear()
        with pytest.raises(InvalidArtifactName, match="both a file and the folder"):
            run.log_text("x", "plots/roc.txt")  # "plots" is a file
        with pytest.raises(InvalidArtifactName, match="both a file and the folder"):
            run.log_text("x", "texts")  # "texts" is a folder
        with pytest.raises(InvalidArtifactName, match="both a file and the folder"):
            run.log_text("x", "texts/3.txt/inner")
        folder = tmp_path / "batch"
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "a.txt").write_text("a")
        with pytest.raises(InvalidArtifactName):
            run.log_artifact(folder / "sub" / "a.txt", name="plots/a.txt")
        run.log_artifact(folder, name="batch")
        run.log_text("again", "texts/new.txt")  # the same name again replaces it
    names = set(run.artifacts)
    assert {"texts/new.txt", "batch/sub/a.txt", "plots", "Plots/a.txt"} <= names
    assert "plots/roc.txt" not in names and "texts" not in names
    assert run.read_text("texts/new.txt") == "again"
