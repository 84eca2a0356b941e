"""What a run ran on: Python, platform, installed packages, git state and source file.

The interpreter and package list are read once per process, and the package list again after
a folder packages are installed in changed (``%pip install`` in a running kernel adds or
removes a ``*.dist-info`` folder there); git state is read once per repository and again only
when the repository changed (``HEAD``, index, tracked files).
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
import threading
from collections.abc import Callable
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


def _compute_environment() -> Environment:
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


def _packages_key() -> tuple:
    """The package folders on ``sys.path`` (``site-packages``, ``dist-packages``) with their
    modification times: installing, upgrading or removing a package adds or removes a
    ``*.dist-info`` entry in one of them. Other folders are left out: a script's or notebook's
    own folder changes whenever it writes a file."""
    key = []
    for entry in sys.path:
        if os.path.basename(entry.rstrip("/\\")) not in ("site-packages", "dist-packages"):
            continue
        try:
            key.append((entry, os.stat(entry).st_mtime_ns))
        except OSError:
            continue
    return tuple(key)


class _EnvironmentReader:
    """Lists the installed packages once per process (and again after a package folder
    changed, see :func:`_packages_key`), in a background thread.

    Reading a few hundred metadata files takes 0.4-0.9 s; the first run of a process should
    not wait for it. :meth:`start` begins the reading (``%load_ext nbmlops`` and the first
    ``start_run`` call it); :meth:`ready` answers without waiting; :meth:`when_ready` queues
    work for the moment the list is known; :meth:`get` waits for it. The thread is not a
    daemon, so a short script still records its environment before the interpreter exits.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._value: Environment | None = None
        self._key: tuple | None = None  # _packages_key() when _value was read
        self._waiting: list[Callable[[Environment], None]] = []

    def start(self) -> None:
        with self._lock:
            if self._value is not None or self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._read, name="nbmlops-environment", daemon=False
            )
            self._thread.start()

    def _read(self) -> None:
        key = _packages_key()  # before reading: a change while reading is seen next time
        try:
            value = _compute_environment()
        except Exception:  # noqa: BLE001 - get() computes again in the caller and raises there
            with self._lock:
                self._thread = None
            return
        with self._lock:
            self._value, self._key = value, key
            waiting, self._waiting = self._waiting, []
        for fn in waiting:
            _call_quietly(fn, value)

    def _forget_if_changed(self) -> None:
        """Drop the package list once a package folder changed, so it is read again."""
        value = self._value
        if value is None or self._key == _packages_key():
            return
        with self._lock:
            if self._value is value and (self._thread is None or not self._thread.is_alive()):
                self._value, self._key, self._thread = None, None, None

    def ready(self) -> Environment | None:
        self._forget_if_changed()
        value = self._value
        if value is None:
            self.start()
        return value

    def when_ready(self, fn: Callable[[Environment], None]) -> None:
        """Call ``fn(environment)`` now if it is known, else from the thread once it is."""
        self._forget_if_changed()
        with self._lock:
            value = self._value
            if value is None:
                self._waiting.append(fn)
        if value is None:
            self.start()
        else:
            fn(value)

    def get(self) -> Environment:
        self._forget_if_changed()
        self.start()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        value = self._value
        if value is None:  # the thread failed: compute here, so the error is seen
            key = _packages_key()
            value = _compute_environment()
            with self._lock:
                self._value, self._key = value, key
        return value

    def settle(self) -> None:
        """Wait until queued work (runs waiting for their environment) is done."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()


def _call_quietly(fn: Callable[[Environment], None], value: Environment) -> None:
    try:
        fn(value)
    except Exception as exc:  # noqa: BLE001 - a background thread has nobody to raise to
        import warnings

        warnings.warn(
            f"nbmlops could not record the environment of a run ({type(exc).__name__}: {exc})",
            RuntimeWarning,
            stacklevel=1,
        )


_reader = _EnvironmentReader()
settle_environment = _reader.settle
start_reading_environment = _reader.start
ready_environment = _reader.ready
when_environment_ready = _reader.when_ready


def current_environment() -> Environment:
    """The environment of this process, read once and again after a package was installed or
    removed (waits for the background reading)."""
    return _reader.get()


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


def _git_dirs(root: Path) -> tuple[Path, Path]:
    """``(git dir, common dir)`` of the work tree at ``root`` (they differ in a linked worktree)."""
    dot = root / ".git"
    gitdir = dot
    if dot.is_file():  # a linked worktree or a submodule: "gitdir: <path>"
        text = dot.read_text(errors="replace").strip()
        if text.startswith("gitdir:"):
            gitdir = (root / text[len("gitdir:") :].strip()).resolve()
    common = gitdir
    commondir = gitdir / "commondir"
    if commondir.is_file():
        common = (gitdir / commondir.read_text().strip()).resolve()
    return gitdir, common


def _stat_key(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class _RepoWatch:
    """The last git state of one repository and what it was read from.

    A repository's state changes only through its ``HEAD`` (and the ref it points to), its
    index, or a tracked file of its work tree; all three are compared by ``stat`` (modification
    time in nanoseconds and size), so an unchanged repository costs a few hundred ``stat``
    calls and no git process. The tracked files are listed again only when the index changed.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.gitdir, self.common = _git_dirs(root)
        self.tracked: list[str] = []
        self.paths: list[str] = []
        self.tracked_for: tuple | None = None  # (index stat,) the list was read at
        self.key: tuple | None = None
        self.state: GitState | None = None

    def _refs_key(self) -> tuple:
        head = self.gitdir / "HEAD"
        try:
            text = head.read_text(errors="replace").strip()
        except OSError:
            text = ""
        ref = text[len("ref:") :].strip() if text.startswith("ref:") else None
        return (
            text,
            _stat_key(self.common / ref) if ref else None,
            _stat_key(self.common / "packed-refs"),
        )

    def _worktree_key(self, index: tuple[int, int] | None) -> tuple:
        if self.tracked_for is None or index != self.tracked_for[0]:
            listed = _git(["ls-files", "-z"], self.root)
            self.tracked = [p for p in (listed or "").split("\0") if p]
            # Joined once per listing: joining each path on every run cost as much as its stat.
            root = str(self.root)
            self.paths = [os.path.join(root, rel) for rel in self.tracked]
            self.tracked_for = (index,)
        stat = os.stat
        out = []
        append = out.append
        for path in self.paths:
            try:
                st = stat(path)
                append((st.st_mtime_ns, st.st_size))
            except OSError:
                append(None)  # deleted: a change too
        return tuple(out)

    def current(self) -> GitState | None:
        index = _stat_key(self.gitdir / "index")
        key = (self._refs_key(), index, self._worktree_key(index))
        if key != self.key:
            # The key is read before git runs: a change while it runs is seen next time.
            self.state = _read_git_state(self.root)
            self.key = key
        return self.state


def _read_git_state(here: Path) -> GitState | None:
    # Two processes: rev-parse answers commit and branch at once; the diff against HEAD is
    # empty exactly when no tracked file differs (staged or not), which is what "dirty" means.
    heads = _git(["rev-parse", "HEAD", "--abbrev-ref", "HEAD"], here)
    if heads is None:
        return None  # a repository without commits yet
    commit, _, branch = heads.strip().partition("\n")
    diff = _git(["diff", "HEAD", "--no-color"], here) or ""
    branch = branch.strip() or None
    return GitState(
        commit=commit.strip(),
        branch=None if branch == "HEAD" else branch,
        dirty=bool(diff.strip()),
        diff=diff,
    )


_watches: dict[Path, _RepoWatch] = {}
_watch_lock = threading.Lock()


def git_state(cwd: str | os.PathLike | None = None) -> GitState | None:
    """Commit, branch and uncommitted diff of the repository holding ``cwd`` (None outside one).

    Read once per repository and process, then again only when ``HEAD``, the index or a
    tracked file changed (see :class:`_RepoWatch`); untracked files are not part of the state.
    """
    here = Path(cwd or Path.cwd()).resolve()
    root = next((p for p in (here, *here.parents) if (p / ".git").exists()), None)
    if root is None:
        return None  # cheap exit: no git process at all
    with _watch_lock:
        watch = _watches.get(root)
        if watch is None:
            watch = _watches[root] = _RepoWatch(root)
        return watch.current()


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
