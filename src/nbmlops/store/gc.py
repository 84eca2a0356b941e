"""Garbage of a workspace: files that nothing uses and nothing will, and how to remove them.

A write killed half-way leaves a temporary file (``.tmp-*``); a killed feature ingest leaves a
Parquet file (and a pending row) that was never committed; a killed prediction-log write or
retention pass leaves a file no row names; content whose last user was deleted stays as an
orphaned blob. :func:`find_garbage` lists them, :func:`remove_garbage` deletes them.

Only files (and rows) older than a grace period count: a write in progress is always younger
than that, and storing content that already exists refreshes its blob's modification time.
"""

from __future__ import annotations

import os
import posixpath
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import fsspec
from fsspec.implementations.local import LocalFileSystem
from sqlalchemy import String, Text, delete, select

from . import _schema as t
from ._engine import read_transaction
from .artifacts import TMP_PREFIX

DEFAULT_GRACE_S = 3600.0
_DIGEST = re.compile(r"[0-9a-f]{64}")
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Garbage:
    """One file (or pending row) that can go, and why."""

    path: str
    size: int
    age_s: float
    reason: str
    kind: str  # "temporary" | "orphaned blob" | "uncommitted" | "unreferenced" | "pending row"
    write_id: int | None = None  # pending feature write rows


def parse_age(text: str | float) -> float:
    """Seconds from ``"90s"``, ``"30m"``, ``"2h"``, ``"7d"`` or a plain number of seconds.

    >>> parse_age("2h"), parse_age("45"), parse_age("1.5d")
    (7200.0, 45.0, 129600.0)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a duration: write e.g. 90s, 30m, 2h or 7d")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * unit


def referenced_digests(engine) -> set[str]:
    """Every sha256 any row names: digest columns, and digests inside text (JSON) columns.

    Reading every text column makes this conservative: a blob named anywhere is kept.
    """
    found: set[str] = set()
    with read_transaction(engine) as conn:
        for table in t.metadata.sorted_tables:
            columns = [
                c
                for c in table.columns
                if isinstance(c.type, (String, Text))
                and (c.name.endswith("digest") or isinstance(c.type, Text))
            ]
            if not columns:
                continue
            result = conn.execution_options(stream_results=True).execute(select(*columns))
            for rows in result.partitions(2000):
                for row in rows:
                    for value in row:
                        if not value:
                            continue
                        if len(value) == 64 and _HEX.issuperset(value):
                            found.add(value)
                        elif len(value) > 64:
                            found.update(_DIGEST.findall(value))
    return found


def _committed_paths(engine) -> set[str]:
    with read_transaction(engine) as conn:
        features = conn.execute(
            select(t.feature_writes.c.path).where(t.feature_writes.c.status == "committed")
        ).scalars()
        paths = {p for p in features if p}
        paths.update(p for p in conn.execute(select(t.prediction_writes.c.path)).scalars() if p)
    return {posixpath.normpath(p) for p in paths}


def _files(url: str) -> Iterator[tuple[str, str, int, float | None]]:
    """``(URL, path in its filesystem, size, modified time)`` of every file under ``url``
    (nothing if it is absent)."""
    fs, root = fsspec.core.url_to_fs(url)
    if isinstance(fs, LocalFileSystem):
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    info = os.stat(path)
                except FileNotFoundError:  # removed meanwhile
                    continue
                yield path, path, info.st_size, info.st_mtime
        return
    try:
        listing = fs.find(root, detail=True)
    except FileNotFoundError:
        return
    for path, info in listing.items():
        try:
            modified = fs.modified(path).timestamp()
        except (NotImplementedError, OSError, AttributeError):
            modified = None  # unknown age: never garbage
        yield fs.unstrip_protocol(path), path, int(info.get("size") or 0), modified


def _blob_digest(base: str, path: str) -> str | None:
    rel = posixpath.relpath(path.replace(os.sep, "/"), posixpath.join(base, "sha256"))
    parts = rel.split("/")
    if len(parts) == 2 and len(parts[0]) == 2 and len(parts[1]) == 62:
        digest = parts[0] + parts[1]
        if _HEX.issuperset(digest):
            return digest
    return None


def find_garbage(
    store, parquet_roots: Iterable[str] = (), grace_s: float = DEFAULT_GRACE_S
) -> list[Garbage]:
    """What can be removed from ``store``'s artifacts and the Parquet folders ``parquet_roots``
    (the feature store's offline folder, the prediction log), oldest first."""
    now = time.time()
    found: list[Garbage] = []

    def old(modified: float | None) -> float | None:
        if modified is None:
            return None
        age = now - modified
        return age if age >= grace_s else None

    artifacts = store.artifacts
    referenced = referenced_digests(store.meta.engine)
    for url, path, size, modified in _files(artifacts.root):
        age = old(modified)
        if age is None:
            continue
        name = posixpath.basename(path.replace(os.sep, "/"))
        if name.startswith(TMP_PREFIX):
            found.append(
                Garbage(url, size, age, "temporary file of an interrupted write", "temporary")
            )
            continue
        digest = _blob_digest(artifacts._base, path)
        if digest is not None and digest not in referenced:
            found.append(
                Garbage(
                    url,
                    size,
                    age,
                    "orphaned blob: no run, model, report or reference uses this content",
                    "orphaned blob",
                )
            )

    committed = _committed_paths(store.meta.engine)
    for root in dict.fromkeys(parquet_roots):
        for url, path, size, modified in _files(root):
            age = old(modified)
            if age is None:
                continue
            name = posixpath.basename(path.replace(os.sep, "/"))
            if ".tmp-" in name:
                found.append(
                    Garbage(
                        url,
                        size,
                        age,
                        "temporary Parquet file of an interrupted write",
                        "temporary",
                    )
                )
            elif name.endswith(".parquet") and posixpath.normpath(path) not in committed:
                found.append(
                    Garbage(
                        url,
                        size,
                        age,
                        "uncommitted Parquet: its write was interrupted before its row was "
                        "committed, or its row was already removed",
                        "uncommitted",
                    )
                )

    fw = t.feature_writes
    with read_transaction(store.meta.engine) as conn:
        pending = conn.execute(
            select(fw.c.write_id, fw.c.name, fw.c.version, fw.c.created_at).where(
                fw.c.status == "pending", fw.c.created_at <= now - grace_s
            )
        ).all()
    for write_id, name, version, created_at in pending:
        found.append(
            Garbage(
                f"feature_writes row {write_id} ({name} v{version})",
                0,
                now - created_at,
                "pending feature write of an interrupted ingest (never committed)",
                "pending row",
                write_id=write_id,
            )
        )
    found.sort(key=lambda g: -g.age_s)
    return found


def remove_garbage(store, items: list[Garbage], grace_s: float = DEFAULT_GRACE_S) -> list[Garbage]:
    """Delete ``items``; return those removed. A file that was used again since it was listed
    (its modification time is now within the grace period) is kept."""
    removed: list[Garbage] = []
    rows = [g.write_id for g in items if g.kind == "pending row"]
    for item in items:
        if item.kind == "pending row":
            continue
        fs, path = fsspec.core.url_to_fs(item.path)
        try:
            if isinstance(fs, LocalFileSystem):
                if time.time() - os.stat(path).st_mtime < grace_s:
                    continue  # touched again (content stored anew): in use
                os.remove(path)
            else:
                fs.rm(path)
        except FileNotFoundError:
            continue
        removed.append(item)
    if rows:
        fw = t.feature_writes

        def fn(conn):
            conn.execute(delete(fw).where(fw.c.write_id.in_(rows), fw.c.status == "pending"))

        store.meta._write(fn)
        removed.extend(g for g in items if g.kind == "pending row")
    return removed
