"""Deleting model versions: refused where it would break a reference, kept in the history,
numbers never reused, model files removed only when nothing else holds the same content."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import nbmlops
from nbmlops.errors import InvalidTransition, ModelNotFound
from nbmlops.store import get_store


def _tree(depth: int) -> DecisionTreeClassifier:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)


@pytest.fixture
def three_versions(backend):
    """Versions 1-3 of 'iris', trees of depth 1, 2 and 3 (three different model files)."""
    for depth in (1, 2, 3):
        nbmlops.register_model(_tree(depth), "iris")


class Threshold:
    """A user's own model class: pickled, so the same object gives the same bytes."""

    def __init__(self, cut: float):
        self.cut = cut

    def predict(self, frame):
        return (frame.iloc[:, 0] > self.cut).astype(int)


def _versions(name: str = "iris") -> list[int]:
    return [int(v) for v in nbmlops.model_versions(name)["version"]]


def _blob(digest: str) -> Path:
    store = get_store(nbmlops.get_settings())
    return Path(store.artifacts.path_of(digest))


def test_delete_removes_the_version_and_keeps_it_in_the_history(three_versions):
    digest = nbmlops.get_model("iris", 2).info["digest"]
    mv = nbmlops.delete_model_version("iris", 2, reason="trained on the wrong split")
    assert mv.deleted and repr(mv) == "<ModelVersion models:/iris/2 (deleted)>"
    assert _versions() == [1, 3]
    history = nbmlops.model_history("iris")
    last = history.iloc[-1]
    assert (last["version"], last["action"], last["reason"]) == (
        2,
        "delete",
        "trained on the wrong split",
    )
    assert last["user"] and pd.notna(last["at"])
    with pytest.raises(ModelNotFound, match="version 2 of model 'iris' was deleted") as caught:
        nbmlops.get_model("models:/iris/2")
    assert "trained on the wrong split" in str(caught.value)
    with pytest.raises(ModelNotFound, match="was deleted"):
        nbmlops.load_model("iris", version=2)
    with pytest.raises(ModelNotFound, match="was deleted"):
        nbmlops.promote("iris", 2)
    with pytest.raises(ModelNotFound, match="was deleted"):
        nbmlops.delete_model_version("iris", 2)
    assert not _blob(digest).exists()  # nothing else held that model file
    # The other versions still load; the model list counts what remains.
    assert nbmlops.load_model("models:/iris/3").max_depth == 3
    listed = nbmlops.models().iloc[0]
    assert (listed["versions"], listed["latest_version"]) == (2, 3)


def test_version_numbers_are_never_reused(three_versions):
    nbmlops.delete_model_version("iris", 3)
    assert nbmlops.register_model(_tree(4), "iris").version == 4
    for version in (1, 2, 4):
        nbmlops.delete_model_version("iris", version)
    assert _versions() == []
    assert nbmlops.register_model(_tree(5), "iris").version == 5
    assert nbmlops.get_model("iris@latest").version == 5


def test_production_and_aliased_versions_are_refused(three_versions):
    nbmlops.promote("iris", 1)
    nbmlops.set_alias("iris", "champion", 2)
    before = nbmlops.model_history("iris")
    with pytest.raises(InvalidTransition, match="in production") as production:
        nbmlops.delete_model_version("iris", 1)
    assert "promote another version" in str(production.value)
    with pytest.raises(InvalidTransition, match="holds the alias champion") as aliased:
        nbmlops.delete_model_version("iris", 2)
    assert "move the alias" in str(aliased.value)
    assert _versions() == [1, 2, 3]
    assert len(nbmlops.model_history("iris")) == len(before)
    # Once the alias moves, the version can go.
    nbmlops.set_alias("iris", "champion", 3)
    nbmlops.delete_model_version("iris", 2)
    assert _versions() == [1, 3]


def test_a_model_file_shared_with_another_version_or_a_run_is_kept(backend):
    model = Threshold(5.8)
    with nbmlops.start_run(name="fit") as run:
        first = nbmlops.register_model(model, "twins", run=run)
    second = nbmlops.register_model(model, "twins")  # identical bytes: one blob
    digest = first.info["digest"]
    assert second.info["digest"] == digest
    assert "models/twins/v1/model.pkl" in run.artifacts

    nbmlops.delete_model_version("twins", 1)
    # The run's link to the deleted version's file goes; the file stays for version 2.
    assert "models/twins/v1/model.pkl" not in nbmlops.get_run(run.run_id).artifacts
    assert _blob(digest).exists()
    assert nbmlops.load_model("models:/twins/2", trusted=True).cut == 5.8

    # A run that logged the same content keeps it alive after the last version goes.
    data = _blob(digest).read_bytes()
    with nbmlops.start_run(name="copy") as keeper:
        keeper.log_bytes(data, "backup/model.pkl")
    nbmlops.delete_model_version("twins", 2)
    assert _blob(digest).exists()
    assert nbmlops.get_run(keeper.run_id).read_artifact("backup/model.pkl") == data


def test_rollback_skips_deleted_versions(three_versions):
    for version in (1, 2, 3):
        nbmlops.promote("iris", version)
    nbmlops.delete_model_version("iris", 2)  # archived, in the production history
    assert nbmlops.rollback("iris").version == 1
    assert nbmlops.get_model("iris@production").version == 1


def test_delete_from_the_cli(workspace):
    for depth in (1, 2):
        nbmlops.register_model(_tree(depth), "iris")
    nbmlops.promote("iris", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBMLOPS_")}
    env["NBMLOPS_HOME"] = str(workspace)

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "nbmlops", "models", "delete", *args],
            capture_output=True,
            text=True,
            env=env,
            input=stdin,
            timeout=480,  # a deadline against hangs, not an expected time: the machine may be busy
        )

    declined = cli("iris", "2", stdin="n\n")
    assert declined.returncode == 1 and "Delete models:/iris/2" in declined.stderr
    assert _versions() == [1, 2]
    refused = cli("iris", "1", "--yes")
    assert refused.returncode == 2 and "in production" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = cli("iris", "2", "--reason", "bad split", "--yes")
    assert done.returncode == 0, done.stderr
    assert "deleted models:/iris/2" in done.stdout
    assert _versions() == [1]
    assert nbmlops.model_history("iris").iloc[-1]["reason"] == "bad split"
    again = cli("iris", "2", "--yes")
    assert again.returncode == 2 and "was deleted" in again.stderr
