"""Git state read once per repository and again only on change; packages read off the run path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from nbmlops.tracking import environment

pytestmark = pytest.mark.skipif(
    subprocess.run(["git", "--version"], capture_output=True).returncode != 0,
    reason="git is not installed",
)


def _git(repo, *args):
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a.py").write_text("a = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("b = 2\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


@pytest.fixture
def git_calls(monkeypatch):
    """The git commands nbmlops runs (the real ``git`` still runs them)."""
    calls: list[list[str]] = []
    real = environment._git

    def counting(args, cwd):
        calls.append(args)
        return real(args, cwd)

    monkeypatch.setattr(environment, "_git", counting)
    monkeypatch.setattr(environment, "_watches", {})
    return calls


def test_unchanged_repository_runs_no_git_process(repo, git_calls):
    first = environment.git_state(repo)
    assert first is not None and not first.dirty and first.branch == "main"
    started = len(git_calls)
    assert started > 0
    for _ in range(3):
        assert environment.git_state(repo / "sub") == first
    assert len(git_calls) == started  # nothing changed: no git process at all


def test_every_kind_of_change_is_seen(repo, git_calls):
    clean = environment.git_state(repo)
    # An edit of a tracked file (same size, so only the mtime says it changed).
    (repo / "a.py").write_text("a = 3\n")
    edited = environment.git_state(repo)
    assert edited.dirty and "a = 3" in edited.diff and edited.commit == clean.commit
    # Staging it keeps it dirty against HEAD.
    _git(repo, "add", "a.py")
    assert environment.git_state(repo).dirty
    # Committing makes it clean at a new commit.
    _git(repo, "commit", "-q", "-m", "second")
    committed = environment.git_state(repo)
    assert not committed.dirty and committed.commit != clean.commit
    # A new branch.
    _git(repo, "checkout", "-q", "-b", "feature")
    assert environment.git_state(repo).branch == "feature"
    # Deleting a tracked file.
    (repo / "sub" / "b.py").unlink()
    deleted = environment.git_state(repo)
    assert deleted.dirty and "b = 2" in deleted.diff
    # An untracked file is not part of the state (as before: status without untracked).
    (repo / "sub" / "b.py").write_text("b = 2\n")
    calls = len(git_calls)
    restored = environment.git_state(repo)
    assert not restored.dirty
    (repo / "new.txt").write_text("untracked\n")
    assert environment.git_state(repo) == restored
    assert len(git_calls) > calls  # the restore was read from git, the untracked file not


def test_outside_a_repository(tmp_path, git_calls):
    assert environment.git_state(tmp_path) is None
    assert git_calls == []


CHILD = """
import json, threading
import nbmlops
from nbmlops.tracking import environment

threads = []
real = environment._installed_packages

def spy():
    threads.append(threading.current_thread().name)
    return real()

environment._installed_packages = spy
nbmlops.configure(home={home!r}, reset=True)
with nbmlops.start_run(name="first") as run:
    nbmlops.log_param("a", 1)
packages = run.environment["packages"]
with nbmlops.start_run(name="second") as second:
    pass
print(json.dumps({{
    "threads": threads,
    "n_packages": len(packages),
    "same_env": nbmlops.get_run(run.run_id)._row()["env_id"]
        == nbmlops.get_run(second.run_id)._row()["env_id"],
}}))
"""


def test_packages_are_listed_once_off_the_runs_thread(tmp_path):
    code = textwrap.dedent(CHILD.format(home=str(tmp_path / "ws")))
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["threads"] == ["nbmlops-environment"]
    assert found["n_packages"] > 10
    assert found["same_env"]


INSTALL_CHILD = """
import json, pathlib, sys, time
site = pathlib.Path({site!r})
sys.path.append(str(site))
import nbmlops
from nbmlops.tracking import environment

reads = []
real = environment._installed_packages
environment._installed_packages = lambda: reads.append(1) or real()
nbmlops.configure(home={home!r}, reset=True)
with nbmlops.start_run(name="before") as before:
    pass
with nbmlops.start_run(name="unchanged") as unchanged:
    pass
environment.settle_environment()
# what `%pip install nbmlops-probe-pkg` does to a folder on sys.path
info = site / "nbmlops_probe_pkg-1.2.3.dist-info"
info.mkdir()
(info / "METADATA").write_text("Metadata-Version: 2.1\\nName: nbmlops-probe-pkg\\nVersion: 1.2.3\\n")
with nbmlops.start_run(name="after") as after:
    pass
environment.settle_environment()
print(json.dumps({{
    "reads": len(reads),
    "before": [p for p in nbmlops.get_run(before.run_id).environment["packages"] if "probe" in p],
    "after": [p for p in nbmlops.get_run(after.run_id).environment["packages"] if "probe" in p],
    "same_before": nbmlops.get_run(before.run_id)._row()["env_id"]
        == nbmlops.get_run(unchanged.run_id)._row()["env_id"],
    "current": [p for p in environment.current_environment().packages if "probe" in p],
}}))
"""


def test_a_package_installed_in_a_running_process_is_recorded_by_the_next_run(tmp_path):
    site = tmp_path / "venv" / "site-packages"
    site.mkdir(parents=True)
    code = textwrap.dedent(INSTALL_CHILD.format(home=str(tmp_path / "ws"), site=str(site)))
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["before"] == [] and found["same_before"]
    assert found["after"] == ["nbmlops-probe-pkg==1.2.3"]
    assert found["current"] == ["nbmlops-probe-pkg==1.2.3"]
    assert found["reads"] == 2  # once, and once more after the install: not on every run
