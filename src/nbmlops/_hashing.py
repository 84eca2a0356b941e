"""SHA-256 of bytes, optionally computed in a thread while the caller goes on."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable


def sha256_later(data: bytes, in_thread: bool = True) -> Callable[[], str]:
    """A function returning the sha256 hex digest of ``data``.

    With ``in_thread`` the hash starts now in a thread (hashlib releases the GIL on large
    buffers, so it overlaps the caller's next work) and the function waits for it; without,
    the function hashes when called.

    >>> sha256_later(b"abc")()[:8]
    'ba7816bf'
    """
    if not in_thread:
        return lambda: hashlib.sha256(data).hexdigest()
    found: list[str] = []
    worker = threading.Thread(
        target=lambda: found.append(hashlib.sha256(data).hexdigest()),
        name="nbmlops-hash",
        daemon=True,
    )
    worker.start()

    def result() -> str:
        worker.join()
        # The thread can only have failed on memory: hash here instead.
        return found[0] if found else hashlib.sha256(data).hexdigest()

    return result
