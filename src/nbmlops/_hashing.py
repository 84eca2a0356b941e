"""SHA-256 of bytes, optionally computed in a thread while the caller goes on."""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any


def sha256_later(data: bytes | Sequence[Any], in_thread: bool = True) -> Callable[[], str]:
    """A function returning the sha256 hex digest of ``data`` (bytes, or a sequence of
    buffers hashed one after the other).

    With ``in_thread`` the hash starts now in a thread (hashlib releases the GIL on large
    buffers, so it overlaps the caller's next work) and the function waits for it; without,
    the function hashes when called.

    >>> sha256_later(b"abc")()[:8]
    'ba7816bf'
    >>> sha256_later([b"a", memoryview(b"bc")])()[:8]
    'ba7816bf'
    """
    parts = (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data

    def digest() -> str:
        hasher = hashlib.sha256()
        # Gathered into blocks only in a thread: in the caller's thread the copy gains nothing.
        for block in _blocks(parts) if in_thread else map(_view, parts):
            hasher.update(block)
        return hasher.hexdigest()

    if not in_thread:
        return digest
    found: list[str] = []
    worker = threading.Thread(
        target=lambda: found.append(digest()), name="nbmlops-hash", daemon=True
    )
    worker.start()

    def result() -> str:
        worker.join()
        # The thread can only have failed on memory: hash here instead.
        return found[0] if found else digest()

    return result


# Parts hashed in a thread are gathered into blocks this large: every ``update`` of a large
# buffer releases the GIL and waits to take it back (up to the 5 ms switch interval while the
# caller runs Python), so the 1,200 arrays of a 300-tree forest hashed one by one slowed both
# the hash and the caller; gathered, it is a dozen hand-overs and one copy.
_BLOCK = 8 << 20


def _view(part: Any) -> memoryview:
    return part.raw() if isinstance(part, pickle.PickleBuffer) else memoryview(part)


def _blocks(parts: Sequence[Any]) -> Iterator[memoryview]:
    """The bytes of ``parts`` in order: a large part as it is, smaller ones gathered."""
    block, filled = None, 0
    for part in parts:
        view = _view(part)
        size = view.nbytes
        if filled and filled + size > _BLOCK:
            yield memoryview(block)[:filled]
            filled = 0
        if size >= _BLOCK:
            yield view
            continue
        if block is None:
            block = bytearray(_BLOCK)
        block[filled : filled + size] = view
        filled += size
    if filled:
        yield memoryview(block)[:filled]


class _Parts:
    """A write-only file that keeps what it is given, uncopied, in order."""

    def __init__(self) -> None:
        self.parts: list[Any] = []

    def write(self, part: Any) -> int:
        self.parts.append(part)
        return memoryview(part).nbytes


def pickle_parts(obj: object) -> list[Any]:
    """The bytes of ``pickle.dumps(obj, protocol=5)``, as the buffers the pickler wrote.

    The pickler hands a large array's own memory to a file's ``write`` (a ``PickleBuffer``,
    no copy) where ``dumps`` would copy it into one bytes object: for a 300-tree forest,
    5 ms instead of 60. The buffers are views of ``obj``'s arrays, so hash them before
    ``obj`` changes.

    >>> b"".join(bytes(p) for p in pickle_parts([1, 2])) == pickle.dumps([1, 2], protocol=5)
    True
    """
    sink = _Parts()
    pickle.Pickler(sink, protocol=5).dump(obj)
    return sink.parts
