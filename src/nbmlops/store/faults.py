"""Failures of the database or the disk, told as :class:`~nbmlops.errors.StoreError`\\ s.

Raw ``OSError``, ``sqlite3``/``psycopg`` and SQLAlchemy errors never reach a user: each is
turned into the ``StoreError`` subclass that says what happened and what to do about it.
"""

from __future__ import annotations

import errno
import sqlite3

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..errors import StoreCorrupted, StoreError, StoreFull, StoreUnavailable

_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_READ_ONLY = {errno.EACCES, errno.EPERM, errno.EROFS}

_TIMEOUT_SETTINGS = (
    "raise NBMLOPS_CONNECT_TIMEOUT_S / NBMLOPS_STATEMENT_TIMEOUT_S (or "
    "nbmlops.configure(connect_timeout_s=..., statement_timeout_s=...)) if the server is just slow"
)


def is_database_error(exc: BaseException) -> bool:
    """True for errors raised by SQLAlchemy or a database driver (sqlite3, psycopg)."""
    if isinstance(exc, (SQLAlchemyError, sqlite3.Error)):
        return True
    return type(exc).__module__.split(".")[0] == "psycopg"


def reason_of(exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


def _sqlstate(exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")


def database_error(exc: BaseException, where: str, timeouts: str = "") -> StoreError:
    """The ``StoreError`` for a database failure ``exc`` of the store at ``where`` (a URL with
    the password hidden); ``timeouts`` describes the timeout settings in force."""
    reason = reason_of(exc)
    text = reason.lower()
    state = _sqlstate(exc)
    if "database or disk is full" in text or state == "53100" or "no space left" in text:
        return StoreFull(
            f"the metadata store {where} is out of disk space ({reason}); nothing was written. "
            "Free space on its disk and retry: buffered metrics of open runs are kept until "
            "a write succeeds"
        )
    if "malformed" in text or "not a database" in text or state.startswith("XX"):
        return StoreCorrupted(
            f"the metadata store {where} is damaged ({reason}). Run `nbmlops doctor` to see "
            "what is wrong; restore the file from a backup, or salvage it with "
            "`sqlite3 nbmlops.db .recover | sqlite3 recovered.db` and point NBMLOPS_STORE_URL "
            "at the result"
        )
    if "disk i/o error" in text or "readonly database" in text or "unable to open" in text:
        return StoreError(
            f"the metadata store {where} cannot be written ({reason}); check that its folder "
            "exists, is writable and its disk is not full or unmounted, then retry"
        )
    if any(s in text for s in ("database is locked", "database is busy", "deadlock detected")):
        return StoreUnavailable(
            f"the metadata store {where} stayed locked by other writers ({reason}{timeouts}); "
            "retry when they are done, or raise NBMLOPS_BUSY_TIMEOUT_S "
            "(nbmlops.configure(busy_timeout_s=...))"
        )
    if state == "57014" or "statement timeout" in text or "canceling statement" in text:
        return StoreUnavailable(
            f"the metadata store {where} did not answer a statement in time ({reason}{timeouts}); "
            f"check the server's load, or {_TIMEOUT_SETTINGS}"
        )
    if (
        state.startswith("08")
        or "timeout expired" in text
        or "connection" in text
        or "could not connect" in text
        or "server closed" in text
    ):
        return StoreUnavailable(
            f"cannot open the metadata store {where} ({reason}{timeouts}). Check that the "
            "database server is running and the URL (NBMLOPS_STORE_URL) is right, or "
            f"{_TIMEOUT_SETTINGS}; `nbmlops doctor` shows the settings in use"
        )
    return StoreError(
        f"the metadata store {where} failed: {reason}. Nothing was written half-way; retry, and "
        "run `nbmlops doctor` if it keeps failing"
    )


def disk_error(exc: OSError, where: str) -> StoreError:
    """The ``StoreError`` for an ``OSError`` raised while writing under ``where``."""
    reason = exc.strerror or str(exc)
    if exc.errno in _NO_SPACE or "no space left" in reason.lower():
        return StoreFull(
            f"no space left on the disk holding {where} ({reason}); nothing was stored. Free "
            "space (`nbmlops gc` lists temporary and orphaned files) and retry"
        )
    if exc.errno in _READ_ONLY:
        return StoreError(
            f"cannot write under {where} ({reason}); make the folder writable or point "
            "NBMLOPS_ARTIFACTS at one that is"
        )
    return StoreError(f"cannot write under {where} ({reason}); check the disk and retry")
