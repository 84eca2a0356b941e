"""Content-addressed artifact storage on any fsspec filesystem.

Every blob lives at ``<root>/sha256/<2 hex>/<62 hex>``: identical content is stored once, a
write is atomic (temporary file + rename locally; a single PUT on object stores), and every
read recomputes the sha256 and raises :class:`~nbmlops.errors.IntegrityError` on a mismatch.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from ..errors import ArtifactNotFound, IntegrityError, InvalidArtifactName, StoreError

_CHUNK = 1 << 20
MAX_NAME_LEN = 1024


def validate_artifact_name(name: object) -> str:
    """Return ``name`` as a normalized relative POSIX path, or raise ``InvalidArtifactName``.

    >>> validate_artifact_name("plots/./roc.png")
    'plots/roc.png'
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidArtifactName(name, "it must be a non-empty string")
    if len(name) > MAX_NAME_LEN:
        raise InvalidArtifactName(name, f"it is longer than {MAX_NAME_LEN} characters")
    if "\x00" in name or any(ord(ch) < 32 for ch in name):
        raise InvalidArtifactName(name, "it contains control characters")
    if "\\" in name:
        raise InvalidArtifactName(name, "use '/' as the separator, not '\\'")
    if name.startswith("/") or posixpath.isabs(name) or (len(name) > 1 and name[1] == ":"):
        raise InvalidArtifactName(name, "it is an absolute path")
    if any(part == ".." for part in name.split("/")):
        raise InvalidArtifactName(name, "'..' would escape the run's artifact folder")
    if name.rstrip().split("/")[-1] in ("", "."):
        raise InvalidArtifactName(name, "it ends with '/' and so names a folder, not a file")
    normalized = posixpath.normpath(name)
    if normalized in (".", ""):
        raise InvalidArtifactName(name, "it names a folder, not a file")
    return normalized


def _parents(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def file_folder_clash(existing: Iterable[str], new: Iterable[str]) -> tuple[str, str] | None:
    """The first pair ``(file, inside)`` where a new name makes ``file`` also a folder.

    A run's artifacts must be writable as one folder tree: ``plots`` and ``plots/roc.png``
    cannot both be files.

    >>> file_folder_clash(["plots"], ["plots/roc.png"])
    ('plots', 'plots/roc.png')
    """
    new = list(new)
    names = set(existing) | set(new)
    folders: dict[str, str] = {}  # folder -> one file inside it
    for name in names:
        for parent in _parents(name):
            folders.setdefault(parent, name)
    for name in new:
        for parent in _parents(name):
            if parent in names:
                return parent, name
        if name in folders:
            return name, folders[name]
    return None


def check_no_clash(existing: Iterable[str], new: Iterable[str]) -> None:
    """Raise ``InvalidArtifactName`` when ``new`` names would clash with a file or folder."""
    clash = file_folder_clash(existing, new)
    if clash is not None:
        file, inside = clash
        raise InvalidArtifactName(
            inside if inside in new else file,
            f"{file!r} would be both a file and the folder holding {inside!r}; "
            "pick a different name for one of them",
        )


class ArtifactStore:
    """Blobs addressed by their sha256 under ``root`` (a local path or any fsspec URL)."""

    def __init__(self, root: str):
        self.root = str(root)
        try:
            self.fs, self._base = fsspec.core.url_to_fs(self.root)
        except ImportError as exc:  # fsspec's hint names the package: "Install s3fs to access S3"
            raise StoreError(
                f"cannot open the artifact store {self.root!r}: {exc}. Install the package "
                "(e.g. pip install s3fs) or set NBMLOPS_ARTIFACTS to a local folder"
            ) from None
        except ValueError as exc:  # an unknown protocol
            raise StoreError(
                f"cannot open the artifact store {self.root!r}: {exc}. Use a local folder or an "
                "fsspec URL such as s3://bucket/prefix (NBMLOPS_ARTIFACTS)"
            ) from None
        self._local = isinstance(self.fs, LocalFileSystem)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.root!r})"

    def path_of(self, digest: str) -> str:
        return posixpath.join(self._base, "sha256", digest[:2], digest[2:])

    def exists(self, digest: str) -> bool:
        return self.fs.exists(self.path_of(digest))

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; return ``(sha256 hex, size)``. Storing existing content is free."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_of(digest)
        if not self.fs.exists(target):
            if self._local:
                self._atomic_local_write(target, [data])
            else:
                self.fs.pipe_file(target, data)
        return digest, len(data)

    def put_file(self, path: str | os.PathLike) -> tuple[str, int]:
        """Store the file at ``path`` (streamed, any size); return ``(sha256 hex, size)``."""
        hasher = hashlib.sha256()
        size = 0
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                hasher.update(chunk)
                size += len(chunk)
        digest = hasher.hexdigest()
        target = self.path_of(digest)
        if not self.fs.exists(target):
            if self._local:
                with open(path, "rb") as fh:
                    self._atomic_local_write(target, iter(lambda: fh.read(_CHUNK), b""))
            else:
                self.fs.put_file(str(path), target)
        return digest, size

    def remove(self, digest: str) -> bool:
        """Delete the blob ``digest``; True if it existed. Callers first make sure that no
        record names it any more (blobs are shared by every record with the same content)."""
        target = self.path_of(digest)
        try:
            if self._local:
                os.unlink(target)  # read-only files can still be unlinked from their folder
            else:
                self.fs.rm_file(target)
        except FileNotFoundError:
            return False
        return True

    def get_bytes(self, digest: str, name: str | None = None) -> bytes:
        """Read a blob and verify it; ``name`` only improves error messages."""
        label = name or digest
        try:
            with self.fs.open(self.path_of(digest), "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            raise ArtifactNotFound(
                f"the content of artifact {label!r} (sha256 {digest}) is missing from "
                f"{self.root}; the artifact folder was moved or pruned"
            ) from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise IntegrityError(label, digest, actual)
        return data

    def _atomic_local_write(self, target: str, chunks) -> None:
        folder = Path(target).parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".tmp-{uuid.uuid4().hex[:8]}-")
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            # Blobs are immutable; read-only files make accidental edits fail loudly.
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
