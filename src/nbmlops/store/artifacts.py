"""Content-addressed artifact storage on any fsspec filesystem.

Every blob lives at ``<root>/sha256/<2 hex>/<62 hex>``: identical content is stored once, a
write is atomic (temporary file + rename locally; a single PUT on object stores), and every
read recomputes the sha256 and raises :class:`~nbmlops.errors.IntegrityError` on a mismatch.

A file is read once while it is hashed and copied, and the copy is checked before it is
renamed into place. Storing content that exists checks the stored blob: a damaged one is
replaced by the new, correct copy (re-logging repairs it).

Durability (local folders): a blob is renamed into place before its call returns, so it
survives the process (``kill -9``) at once. Reaching the disk itself (surviving an OS crash
or power loss) needs an fsync: ``durable=True`` (the default) syncs the blob and its folder
before returning; ``durable=False`` (a run's own artifacts) leaves that to :meth:`sync`, which
syncs every such blob written since in one batch. Runs call it before their final status
commits and the background writer every ``flush_s``; see docs/tracking.md, "Durability".
Object stores have nothing to sync: a PUT is durable once it returns.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import posixpath
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from .._hashing import sha256_later
from ..errors import ArtifactNotFound, IntegrityError, InvalidArtifactName, StoreError
from .faults import disk_error

_CHUNK = 1 << 20
# Files being written start with this prefix; ``nbmlops gc`` removes old ones left by a crash.
TMP_PREFIX = ".tmp-"
MAX_NAME_LEN = 1024
# Blobs at least this large are hashed in a thread while the reader parses them.
_VERIFY_IN_THREAD_FROM = 1 << 20
# Above this many blobs to sync, one syncfs(2) of the filesystem (Linux) replaces an fsync
# per blob: about one journal commit instead of one each.
_SYNCFS_ABOVE = 16


# Unicode categories no file name should hold: controls (C0, DEL, C1), format characters
# (bidirectional overrides such as U+202E, zero-width characters), surrogates, and line and
# paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def unsafe_characters(text: str) -> list[str]:
    """The distinct characters of ``text`` that are controls or invisible formatting."""
    import unicodedata

    return sorted({ch for ch in text if unicodedata.category(ch) in _UNSAFE_CATEGORIES})


def validate_artifact_name(name: object) -> str:
    """Return ``name`` as a normalized relative POSIX path, or raise ``InvalidArtifactName``.

    >>> validate_artifact_name("plots/./roc.png")
    'plots/roc.png'
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidArtifactName(name, "it must be a non-empty string")
    if len(name) > MAX_NAME_LEN:
        raise InvalidArtifactName(name, f"it is longer than {MAX_NAME_LEN} characters")
    unsafe = unsafe_characters(name)
    if unsafe:
        raise InvalidArtifactName(
            name,
            f"it contains control or invisible formatting characters "
            f"({', '.join(f'U+{ord(ch):04X}' for ch in unsafe)}), which can hide what a "
            "name really is (a right-to-left override makes 'gpj.exe' read 'exe.jpg')",
        )
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


class BlobWriter:
    """A new blob written through a file, in a local folder: write to :attr:`file`, call
    :meth:`seal`, then :meth:`keep` (store it under its digest) or :meth:`drop`.

    ``seal`` hashes the written file and, for a durable blob, syncs it in a thread (one
    hand-over of the GIL each: the caller's Python code goes on meanwhile), and the caller
    may still read :attr:`file` back; the registry audits a model file that way while it is
    hashed and synced. Until kept, nothing is visible: the bytes sit in a temporary file
    that ``nbmlops gc`` removes if the process dies.

    >>> writer = store.blob_writer()  # doctest: +SKIP
    >>> writer.file.write(b"model bytes"); writer.seal()  # doctest: +SKIP
    >>> digest, size = writer.keep()  # doctest: +SKIP
    """

    def __init__(self, store: ArtifactStore, durable: bool = True):
        self._store, self._durable = store, durable
        folder = posixpath.join(store._base, "sha256")
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(
                dir=folder, prefix=f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}-"
            )
        except OSError as exc:
            raise disk_error(exc, store.root) from None
        self.file: BinaryIO = os.fdopen(fd, "w+b")
        self._sealed: threading.Thread | None = None
        self._digest: str | None = None
        self._synced = False
        self._failure: BaseException | None = None

    def seal(self, digest_of: Callable[[], str] | None = None) -> None:
        """Writing is done: hash the file and sync it, in a thread. With ``digest_of`` (the
        digest of the very bytes written, known already) there is no hash to overlap: the
        sync waits for :meth:`keep`, which syncs only a copy it keeps."""
        try:
            self.file.flush()
        except OSError as exc:
            raise self.failed(exc) from None
        self._sealed = threading.Thread(
            target=self._hash_and_sync, args=(digest_of,), name="nbmlops-seal", daemon=True
        )
        self._sealed.start()

    def _hash_and_sync(self, digest_of: Callable[[], str] | None) -> None:
        try:
            fd = self.file.fileno()
            if digest_of is not None:
                self._digest = digest_of()
                return
            if os.fstat(fd).st_size == 0:
                self._digest = hashlib.sha256().hexdigest()  # an empty file cannot be mapped
            else:
                self._digest = _sha256_of_fd(fd)
            if self._durable:
                os.fsync(fd)
                self._synced = True
        except BaseException as exc:  # noqa: BLE001 - raised to the caller by keep()
            self._failure = exc

    def keep(self) -> tuple[str, int]:
        """Wait for :meth:`seal`'s thread, then keep the file under its digest (or drop it
        when that blob is stored intact already); return ``(sha256 hex, size)``."""
        if self._sealed is None:
            raise StoreError("a blob is sealed before it is kept: call seal() first")
        self._sealed.join()
        store, tmp = self._store, self._tmp
        try:
            if self._failure is not None:
                raise self._failure
            size = os.fstat(self.file.fileno()).st_size
            self.file.close()
            digest = self._digest
            assert digest is not None  # set unless the thread failed, raised just above
            target = store.path_of(digest)
            if store._intact(target, digest):
                Path(tmp).unlink()
                if self._durable:
                    store._sync_if_pending(target)
            else:
                if self._durable and not self._synced:  # only a kept copy must reach the disk
                    _fsync_path(tmp)
                store._commit_local(tmp, target)
                store._after_rename(target, self._durable)
        except OSError as exc:
            self.drop()
            raise disk_error(exc, store.root) from None
        except BaseException:
            self.drop()
            raise
        return digest, size

    @contextlib.contextmanager
    def writing(self) -> Iterator[BinaryIO]:
        """:attr:`file`, for a block that writes it: a failure in the block drops what was
        written, and an ``OSError`` is raised as a :class:`~nbmlops.errors.StoreError`
        (disk full, read-only, ...)."""
        try:
            yield self.file
        except OSError as exc:
            raise self.failed(exc) from None
        except BaseException:
            self.drop()
            raise

    def failed(self, exc: OSError) -> StoreError:
        """Drop what was written and return ``exc`` (a failed write) told as a
        :class:`~nbmlops.errors.StoreError`: disk full, read-only, ..."""
        self.drop()
        return disk_error(exc, self._store.root)

    def drop(self) -> None:
        """Discard what was written: nothing is stored."""
        if self._sealed is not None:
            self._sealed.join()
        try:
            self.file.close()
        except OSError:  # buffered bytes the full disk refused: discarded with the file
            pass
        Path(self._tmp).unlink(missing_ok=True)


class ArtifactStore:
    """Blobs addressed by their sha256 under ``root`` (a local path or any fsspec URL)."""

    def __init__(self, root: str):
        self.root = str(root)
        local = _local_base(self.root)
        if local is not None:
            # A plain folder needs no fsspec (importing it costs ~0.1 s of the first run).
            self._fs, self._base, self._local = None, local, True
        else:
            self._open_fsspec()
        # Blobs renamed into place but not yet synced to the disk (durable=False writes).
        self._unsynced: list[str] = []
        self._sync_lock = threading.Lock()

    @property
    def fs(self):
        """The fsspec filesystem of ``root`` (made on first use for a local folder)."""
        if self._fs is None:
            from fsspec.implementations.local import LocalFileSystem

            self._fs = LocalFileSystem()
        return self._fs

    def _open_fsspec(self) -> None:
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        try:
            self._fs, self._base = fsspec.core.url_to_fs(self.root)
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
        self._local = isinstance(self._fs, LocalFileSystem)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.root!r})"

    def path_of(self, digest: str) -> str:
        return posixpath.join(self._base, "sha256", digest[:2], digest[2:])

    def exists(self, digest: str) -> bool:
        return self.fs.exists(self.path_of(digest))

    def put_bytes(self, data: bytes, durable: bool = True) -> tuple[str, int]:
        """Store ``data``; return ``(sha256 hex, size)``.

        Content already stored intact is not written again; a stored blob whose bytes no
        longer match its digest is replaced. ``durable=False`` leaves the fsync to
        :meth:`sync` (the blob survives the process at once, an OS crash once synced).
        """
        if self._local and len(data) >= _VERIFY_IN_THREAD_FROM:
            # hashed in a thread while written: both release the GIL, so they overlap
            writer = BlobWriter(self, durable)
            digest_of = sha256_later(data)
            with writer.writing() as fh:
                fh.write(data)
            writer.seal(digest_of)
            return writer.keep()
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_of(digest)
        try:
            if not self._intact(target, digest):
                if self._local:
                    self._atomic_local_write(target, [data], digest, durable)
                else:
                    self.fs.pipe_file(target, data)
            elif durable:
                self._sync_if_pending(target)
        except OSError as exc:
            raise disk_error(exc, self.root) from None
        return digest, len(data)

    def blob_writer(self) -> BlobWriter | None:
        """A :class:`BlobWriter` for a new durable blob, or None on an object store (there,
        collect the bytes and call :meth:`put_bytes`)."""
        return BlobWriter(self) if self._local else None

    def put_file(self, path: str | os.PathLike, durable: bool = True) -> tuple[str, int]:
        """Store the file at ``path`` (streamed, any size); return ``(sha256 hex, size)``.

        The file is read once: the bytes hashed are the bytes stored, so a file still being
        written is stored as the snapshot that was read, under that snapshot's digest.
        """
        try:
            source = open(path, "rb")  # noqa: SIM115 - closed below, after the copy
        except FileNotFoundError:
            raise ArtifactNotFound(f"cannot store {str(path)!r}: it does not exist") from None
        with source:
            return self.put_stream(source, durable)

    def put_stream(self, source: BinaryIO, durable: bool = True) -> tuple[str, int]:
        """Store everything ``source`` (a binary file object) yields until its end, hashing
        while copying; return ``(sha256 hex, size)``."""
        if self._local:
            return self._put_local_stream(source, durable)
        return self._put_remote_stream(source)

    def _put_local_stream(self, source, durable: bool) -> tuple[str, int]:
        """Copy ``source`` to a new blob, hashing each chunk on the way, then keep it under
        its digest (or drop it if that blob is stored intact already)."""
        writer = BlobWriter(self, durable)
        hasher = hashlib.sha256()
        with writer.writing() as fh:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                hasher.update(chunk)
                fh.write(chunk)
        writer.seal(hasher.hexdigest)
        return writer.keep()

    def _put_remote_stream(self, source) -> tuple[str, int]:
        # Object stores have no rename: copy once into a local file (hashing on the way),
        # then upload that copy, so the digest always names the uploaded bytes.
        with tempfile.NamedTemporaryFile(prefix=TMP_PREFIX) as local:
            hasher = hashlib.sha256()
            size = 0
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                hasher.update(chunk)
                size += len(chunk)
                local.write(chunk)
            local.flush()
            digest = hasher.hexdigest()
            target = self.path_of(digest)
            try:
                if not self._intact(target, digest):
                    self.fs.put_file(local.name, target)
            except OSError as exc:
                raise disk_error(exc, self.root) from None
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

    def _intact(self, target: str, digest: str) -> bool:
        """Whether ``target`` holds content hashing to ``digest`` (then its modification time
        is refreshed, so ``nbmlops gc`` counts its grace period from this new use)."""
        if not (os.path.exists(target) if self._local else self.fs.exists(target)):
            return False
        try:
            actual = self._hash_of(target)
        except FileNotFoundError:  # removed meanwhile
            return False
        if actual != digest:
            return False
        if self._local:
            try:
                os.utime(target)
            except OSError:  # read-only media: the blob is still intact
                pass
        return True

    def _hash_of(self, path: str) -> str:
        hasher = hashlib.sha256()
        # A local file is opened directly: fsspec's wrapper costs more than a small read.
        with open(path, "rb") if self._local else self.fs.open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                hasher.update(chunk)
        return hasher.hexdigest()

    def verify(self, digest: str) -> str:
        """``"ok"``, ``"missing"`` or ``"corrupted"``: the state of the stored blob ``digest``."""
        target = self.path_of(digest)
        try:
            return "ok" if self._hash_of(target) == digest else "corrupted"
        except FileNotFoundError:
            return "missing"

    def get_bytes(self, digest: str, name: str | None = None) -> bytes:
        """Read a blob and verify it; ``name`` only improves error messages."""
        data, check = self.read_then_verify(digest, name)
        check()
        return data

    def read_then_verify(
        self, digest: str, name: str | None = None
    ) -> tuple[bytes, Callable[[], None]]:
        """The bytes of a blob and ``check``, which raises ``IntegrityError`` unless they hash
        to ``digest``. A large blob is hashed in a thread meanwhile (hashlib releases the
        GIL), so the caller can parse the bytes while they are verified; it must call
        ``check()`` before it builds anything from them."""
        label = name or digest
        try:
            # A local file is opened directly: fsspec's wrapper reads a large file in blocks.
            with (
                open(self.path_of(digest), "rb")
                if self._local
                else self.fs.open(self.path_of(digest), "rb") as fh
            ):
                data = fh.read()
        except FileNotFoundError:
            raise ArtifactNotFound(
                f"the content of artifact {label!r} (sha256 {digest}) is missing from "
                f"{self.root}; the artifact folder was moved or pruned"
            ) from None
        digest_of = sha256_later(data, in_thread=len(data) >= _VERIFY_IN_THREAD_FROM)

        def check() -> None:
            actual = digest_of()
            if actual != digest:
                raise IntegrityError(label, digest, actual)

        return data, check

    def _ensure_local_folder(self, folder: str) -> None:
        # One mkdir per folder and process: the 256 blob folders are made once, not per write.
        known = self.__dict__.setdefault("_folders", set())
        if folder not in known:
            Path(folder).mkdir(parents=True, exist_ok=True)
            known.add(folder)

    def _atomic_local_write(self, target: str, chunks, digest: str, durable: bool) -> None:
        folder = os.path.dirname(target)
        self._ensure_local_folder(folder)
        prefix = f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}-"
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix)
        except FileNotFoundError:  # the folder was removed since (gc, a user): make it again
            Path(folder).mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix)
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                fh.flush()
                if durable:
                    os.fsync(fh.fileno())
            self._commit_local(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._after_rename(target, durable)

    def _after_rename(self, target: str, durable: bool) -> None:
        if durable:  # the rename is an entry of the folder: sync it too
            _fsync_path(os.path.dirname(target))
        else:
            with self._sync_lock:
                self._unsynced.append(target)

    def _sync_if_pending(self, target: str) -> None:
        # Content stored earlier with durable=False and not synced yet: a durable write of
        # the same content must not return before it is on the disk.
        with self._sync_lock:
            if target not in self._unsynced:
                return
            self._unsynced.remove(target)
        _fsync_path(target)
        _fsync_path(os.path.dirname(target))

    @property
    def unsynced(self) -> int:
        """How many blobs written with ``durable=False`` wait for :meth:`sync`."""
        return len(self._unsynced)

    def sync(self) -> int:
        """Make every blob written with ``durable=False`` durable (content and folder entry);
        return how many were synced. A failure keeps them pending and raises ``StoreError``."""
        with self._sync_lock:
            pending, self._unsynced = self._unsynced, []
        if not pending:
            return 0
        try:
            if not (len(pending) > _SYNCFS_ABOVE and _syncfs(pending[0])):
                for path in pending:
                    _fsync_path(path)
                for folder in {os.path.dirname(p) for p in pending}:
                    _fsync_path(folder)
        except OSError as exc:
            with self._sync_lock:
                self._unsynced[:0] = pending
            raise disk_error(exc, self.root) from None
        return len(pending)

    def _commit_local(self, tmp: str, target: str) -> None:
        """Rename the written copy over ``target``.

        The copy is not read back: its digest was computed from the very bytes written to it
        through one file handle, and every read verifies a blob against its digest anyway.
        (Reading it back cost a whole extra pass: 40 ms for a 70 MB forest.)
        """
        self._ensure_local_folder(os.path.dirname(target))
        # Blobs are immutable; read-only files make accidental edits fail loudly. A damaged
        # blob at ``target`` (read-only too) is replaced: rename needs only the folder.
        os.chmod(tmp, 0o444)
        os.replace(tmp, target)


def _sha256_of_fd(fd: int) -> str:
    """The sha256 of the whole file ``fd``: its mapped page cache hashed in one call (one
    release of the GIL), or read in chunks where the filesystem cannot map files."""
    try:
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mapped:
            return hashlib.sha256(mapped).hexdigest()
    except (OSError, ValueError):  # no mmap here (some network and FUSE filesystems)
        hasher, offset = hashlib.sha256(), 0
        while chunk := os.pread(fd, _CHUNK, offset):
            hasher.update(chunk)
            offset += len(chunk)
        return hasher.hexdigest()


def _local_base(root: str) -> str | None:
    """The absolute POSIX path of a plain local folder (or ``file://`` URL), as fsspec's
    local filesystem names it; None for any other URL (fsspec then decides)."""
    path = root[len("file://") :] if root.startswith("file://") else root
    if "://" in path or "::" in path:
        return None
    if path.startswith("~"):
        path = os.path.expanduser(path)
    path = os.path.abspath(path).replace(os.sep, "/")
    return path.rstrip("/") or "/"


def _fsync_path(path: str) -> None:
    """fsync a file or a folder by path (a folder's fsync makes the names in it durable)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # removed since (gc of a blob no record names): nothing to keep
        return
    try:
        os.fsync(fd)
    except OSError:
        if not os.path.isdir(path):
            raise
        # Some filesystems refuse fsync on a folder (EINVAL): their entries are durable anyway.
    finally:
        os.close(fd)


_libc_syncfs = None


def _syncfs(path: str) -> bool:
    """One syncfs(2) of the filesystem holding ``path`` (Linux); False where unavailable."""
    global _libc_syncfs
    if not sys.platform.startswith("linux"):
        return False
    if _libc_syncfs is None:
        import ctypes

        try:
            _libc_syncfs = ctypes.CDLL(None, use_errno=True).syncfs
        except (AttributeError, OSError):
            _libc_syncfs = False
    if not _libc_syncfs:
        return False
    try:
        fd = os.open(os.path.dirname(path), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        return _libc_syncfs(fd) == 0
    finally:
        os.close(fd)
