"""Files a tracked cell reads, seen through Python's ``open`` audit event.

``pd.read_csv("data.csv")``, ``np.load``, ``json.load(open(...))`` and anything else that opens
a file through Python's ``open``/``os.open`` raises the ``open`` audit event
(:func:`sys.addaudithook`). While a ``%%track`` cell runs, :class:`FileReads` notes the files
its thread opens for reading only; when the cell ends each one is fingerprinted (sha256 of its
content) and recorded as an input of kind ``file``, so ``nbmlops.reproduce`` can say "input
``data.csv`` changed".

Not seen: files opened by native code without Python's ``open`` (pyarrow's parquet reader,
DuckDB, h5py), and files the cell also opened for writing (those are outputs, not inputs).
Library code (the interpreter's prefix, site-packages, ``~/.cache`` …), the nbmlops workspace
and system folders are ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import site
import sys
import threading
import time
from pathlib import Path

MAX_HASHED_BYTES = 256 << 20  # larger files are identified by size and mtime, not content
MAX_FILES = 200
_CODE_SUFFIXES = (".py", ".pyc", ".pyo", ".so", ".pyd", ".pth", ".dll", ".dylib", ".mo")
_SYSTEM_ROOTS = ("/proc", "/sys", "/dev", "/etc", "/usr", "/lib", "/lib64", "/bin", "/sbin")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

_current: FileReads | None = None
_hook_installed = False
_install_lock = threading.Lock()


def _hook(event: str, args: tuple) -> None:
    if event != "open":
        return
    recorder = _current
    if recorder is None or threading.get_ident() != recorder.thread:
        return
    try:
        recorder.saw(*args[:3])
    except Exception:  # noqa: BLE001, S110 - an audit hook must never break open()
        pass


def _install() -> None:
    global _hook_installed
    with _install_lock:
        if not _hook_installed:
            sys.addaudithook(_hook)  # cannot be removed; idle unless a recorder is active
            _hook_installed = True


def _ignored_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *_SYSTEM_ROOTS}
    try:
        roots.update(site.getsitepackages())
        roots.add(site.getusersitepackages())
    except AttributeError:  # virtualenv's old site module
        pass
    return tuple(os.path.join(os.path.realpath(r), "") for r in roots if r)


class FileReads:
    """Collects the files opened for reading (and not for writing) while active."""

    def __init__(self, ignore: list[str | os.PathLike] | None = None):
        self.thread = threading.get_ident()
        self.read: dict[str, None] = {}
        self.written: set[str] = set()
        self._ignore = _ignored_roots() + tuple(
            os.path.join(os.path.realpath(p), "") for p in ignore or []
        )
        self._home = os.path.join(os.path.realpath(os.path.expanduser("~")), "")

    def start(self) -> FileReads:
        global _current
        _install()
        _current = self
        return self

    def stop(self) -> None:
        global _current
        if _current is self:
            _current = None

    def saw(self, path: object, mode: object, flags: object) -> None:
        if isinstance(path, int) or path is None:
            return
        path = os.fsdecode(os.fspath(path))
        if isinstance(mode, str):
            writes = any(c in mode for c in "wax+")
        else:
            writes = isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
        full = os.path.realpath(os.path.abspath(path))
        if writes:
            self.written.add(full)
        elif full not in self.read and len(self.read) < MAX_FILES and self._wanted(full):
            self.read[full] = None

    def _wanted(self, full: str) -> bool:
        if full.endswith(_CODE_SUFFIXES) or full.startswith(self._ignore):
            return False
        if full.startswith(self._home):
            first = full[len(self._home) :].split(os.sep, 1)[0]
            if first.startswith("."):  # ~/.cache, ~/.config, ~/.ipython …
                return False
        return True

    def rows(self, now: float | None = None, taken: set[str] | None = None) -> list[dict]:
        """``data_io`` rows (direction input, kind file) for the files read and still there."""
        now = time.time() if now is None else now
        taken = set(taken or ())
        rows = []
        cwd = os.path.join(os.path.realpath(os.getcwd()), "")
        for full in self.read:
            if full in self.written or not os.path.isfile(full):
                continue
            name = full[len(cwd) :] if full.startswith(cwd) else full
            name = Path(name).as_posix()
            if name in taken:
                name = f"file:{name}"
            if len(name) > 250 or name in taken:
                continue
            taken.add(name)
            digest, size, hashed = file_digest(full)
            rows.append(
                {
                    "direction": "input",
                    "name": name,
                    "kind": "file",
                    "digest": digest,
                    "shape": json.dumps([size]),
                    "schema": None,
                    "info": json.dumps({"path": full, "size": size, "content_hashed": hashed}),
                    "created_at": now,
                }
            )
        return rows


def file_digest(path: str | os.PathLike) -> tuple[str, int, bool]:
    """``(sha256, size, content_hashed)``; files over ``MAX_HASHED_BYTES`` are identified by
    their size and modification time instead of their content."""
    stat = os.stat(path)
    if stat.st_size > MAX_HASHED_BYTES:
        ident = f"size={stat.st_size};mtime_ns={stat.st_mtime_ns}".encode()
        return hashlib.sha256(ident).hexdigest(), stat.st_size, False
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest(), stat.st_size, True
