"""Wrong argument types and unusable paths are nbmlops errors naming the argument, never a
raw AttributeError/TypeError, and never silently log nothing."""

from __future__ import annotations

import os

import pytest

import nbmlops
from nbmlops.errors import (
    InvalidArgument,
    InvalidArgumentType,
    InvalidArtifactName,
    NbmlopsError,
)


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: nbmlops.start_run(tags="k=v"), "start_run(tags=...)"),
        (lambda: nbmlops.start_run(tags=["k", "v"]), "start_run(tags=...)"),
        (lambda: nbmlops.start_run(code=123), "start_run(code=...)"),
        (lambda: nbmlops.runs(order_by=123), "runs(order_by=...)"),
        (lambda: nbmlops.runs(order_by=["a", 1]), "runs(order_by=...)"),
        (lambda: nbmlops.runs(experiment=10**30), "runs(experiment=...)"),
    ],
)
def test_wrong_types_outside_a_run_are_type_errors_naming_the_argument(workspace, call, argument):
    with pytest.raises(InvalidArgumentType) as info:
        call()
    assert isinstance(info.value, TypeError) and isinstance(info.value, NbmlopsError)
    assert info.value.argument == argument and argument in str(info.value)
    assert nbmlops.active_run() is None
    assert nbmlops.runs().empty  # start_run refused before creating anything


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: nbmlops.log_params([("C", 0.5)]), "log_params(params=...)"),
        (lambda: nbmlops.log_params("C=0.5"), "log_params(params=...)"),
        (lambda: nbmlops.log_metrics([0.9]), "log_metrics(metrics=...)"),
        (lambda: nbmlops.set_tags("team=risk"), "set_tags(tags=...)"),
        (lambda: nbmlops.log_artifact(None), "log_artifact(path=...)"),
        (lambda: nbmlops.log_artifact(b"/etc/hosts"), "log_artifact(path=...)"),
    ],
)
def test_wrong_types_in_a_run_are_type_errors_naming_the_argument(workspace, call, argument):
    with nbmlops.start_run() as run:
        with pytest.raises(InvalidArgumentType, match=r"takes .*, got") as info:
            call()
        assert isinstance(info.value, TypeError) and info.value.argument == argument
        assert run.params == {} and run.tags == {} and run.artifacts == []


def test_unhashable_keys_are_invalid_key_not_type_error(workspace):
    from nbmlops.errors import InvalidKey

    with nbmlops.start_run():
        with pytest.raises(InvalidKey):
            nbmlops.log_param(["C"], 0.5)
        with pytest.raises(InvalidKey):
            nbmlops.set_tag({"k": 1}, "v")


def _fifo(path):
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: "/dev/null", "not a regular file"),
        (lambda tmp: _fifo(tmp / "pipe"), "not a regular file"),
        (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "holds no files"),
        (lambda tmp: _empty_tree(tmp), "holds no files"),
        (lambda tmp: _folder_with_fifo(tmp), "not a regular file"),
        (lambda tmp: str(tmp / "a\x00b"), "NUL"),
        (lambda tmp: str(tmp / ("x" * 300)), "too long"),
    ],
    ids=["dev-null", "fifo", "empty-folder", "empty-tree", "folder-with-fifo", "nul", "long"],
)
def test_log_artifact_refuses_what_would_log_nothing_or_block(workspace, tmp_path, make, message):
    source = make(tmp_path)
    with nbmlops.start_run() as run:
        with pytest.raises(InvalidArgument, match=message) as info:
            nbmlops.log_artifact(source)
        assert isinstance(info.value, ValueError)
        assert run.artifacts == []


def _empty_tree(tmp):
    (tmp / "tree" / "a" / "b").mkdir(parents=True)
    return tmp / "tree"


def _folder_with_fifo(tmp):
    (tmp / "mixed").mkdir()
    (tmp / "mixed" / "ok.txt").write_text("ok")
    _fifo(tmp / "mixed" / "pipe")
    return tmp / "mixed"


@pytest.mark.parametrize(
    "name",
    [
        "report\u202etxt.exe",  # right-to-left override
        "a\x7fb.txt",  # DEL
        "a\x85b.txt",  # C1 next line
        "a\x9bb.txt",  # C1 control sequence introducer
        "a\u200bb.txt",  # zero-width space
        "a\u2028b.txt",  # line separator
        "a\u2066b.txt",  # left-to-right isolate
        "notes.txt\n",  # a trailing newline
    ],
    ids=repr,
)
def test_artifact_names_refuse_controls_and_invisible_formatting(workspace, name):
    with nbmlops.start_run() as run:
        with pytest.raises(InvalidArtifactName, match="control"):
            nbmlops.log_text("x", name)
        assert run.artifacts == []
        nbmlops.log_text("x", "caf\u00e9/\u65e5\u672c.txt")  # other Unicode is fine
        assert run.artifacts == ["caf\u00e9/\u65e5\u672c.txt"]
