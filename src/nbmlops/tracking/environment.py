"""What a run ran on: Python, platform, installed packages, git state and source file.

The interpreter and package list are read once per process (they do not change under a
running kernel in any way we can trust to detect cheaply); git state is re-read for every run.
"""

from __future__ import annotations

import dataclasses
import functools
import getpass
import hashlib
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

GIT_TIMEOUT_S = 5


@dataclasses.dataclass(frozen=True)
class Environment:
    """The interpreter, platform and installed packages of this process."""

    env_id: str
    python: str
    implementation: str
    platform: str
    packages: tuple[str, ...]

    @property
    def packages_text(self) -> str:
        """The package lock as ``name==version`` lines (stored once per distinct set)."""
        return "\n".join(self.packages) + "\n"


@dataclasses.dataclass(frozen=True)
class GitState:
    commit: str
    branch: str | None
    dirty: bool
    diff: str


def _name_and_version(dist: importlib.metadata.Distribution) -> tuple[str | None, str | None]:
    """``Name`` and ``Version`` from the header of a distribution's metadata file.

    ``dist.metadata`` parses the whole file (long descriptions included) with the email
    parser, twice with ``dist.version``: for a few hundred packages that is most of a
    second; the header lines are all that is needed.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if not text:
        return None, None
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the header ends at the first blank line
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version") and key not in found:
            found[key] = value.strip()
    return found.get("Name"), found.get("Version")


def _installed_packages() -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name, version = _name_and_version(dist)
        if name:
            seen.setdefault(name.lower().replace("_", "-"), version)
    return tuple(f"{name}=={version}" for name, version in sorted(seen.items()))


@functools.lru_cache(maxsize=1)
def current_environment() -> Environment:
    """The environment of this process, computed once."""
    packages = _installed_packages()
    python = platform.python_version()
    implementation = platform.python_implementation()
    plat = platform.platform()
    ident = json.dumps([python, implementation, plat, packages]).encode()
    return Environment(
        env_id=hashlib.sha256(ident).hexdigest(),
        python=python,
        implementation=implementation,
        platform=plat,
        packages=packages,
    )


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state(cwd: str | os.PathLike | None = None) -> GitState | None:
    """Commit, branch and uncommitted diff of the repository holding ``cwd`` (None outside one)."""
    here = Path(cwd or Path.cwd()).resolve()
    if not any((p / ".git").exists() for p in (here, *here.parents)):
        return None  # cheap exit: no git process at all
    commit = _git(["rev-parse", "HEAD"], here)
    if commit is None:
        return None  # a repository without commits yet
    branch = (_git(["rev-parse", "--abbrev-ref", "HEAD"], here) or "").strip() or None
    status = _git(["status", "--porcelain", "--untracked-files=no"], here) or ""
    dirty = bool(status.strip())
    diff = (_git(["diff", "HEAD", "--no-color"], here) or "") if dirty else ""
    return GitState(
        commit=commit.strip(), branch=None if branch == "HEAD" else branch, dirty=dirty, diff=diff
    )


def _notebook_path() -> str | None:
    if "IPython" not in sys.modules:
        return None  # no IPython shell can be running; importing it would cost ~0.3 s
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return None
    ns = shell.user_ns
    for candidate in (
        ns.get("__vsc_ipynb_file__"),
        ns.get("__session__"),
        os.environ.get("JPY_SESSION_NAME"),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def source_of_process() -> tuple[str | None, str]:
    """``(path, kind)`` of what is running: a notebook, an IPython session or a script.

    ``NBMLOPS_SOURCE`` overrides the path (pipelines set it for the notebooks they execute).
    """
    override = os.environ.get("NBMLOPS_SOURCE")
    if override:
        return override, "notebook" if override.endswith(".ipynb") else "script"
    notebook = _notebook_path()
    if notebook:
        return notebook, "notebook"
    if "IPython" in sys.modules:
        from IPython import get_ipython

        if get_ipython() is not None:
            return None, "ipython"
    script = sys.argv[0] if sys.argv else ""
    if script and script != "-c" and os.path.isfile(script):
        return os.path.abspath(script), "script"
    return None, "interactive"


@functools.lru_cache(maxsize=1)
def process_identity() -> tuple[str, str | None]:
    """``(host, user)`` of this process."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = None
    return socket.gethostname(), user
