"""Where a registry call acts and who makes it: the workspace store, the user, and the check
of free text (descriptions, reasons) they write."""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from contextlib import contextmanager

from ..config import get_settings
from ..errors import InvalidModel
from ..store import Store, get_store
from ..tracking.environment import process_identity

# Set by a face that authenticated its caller (the Jupyter server extension): that identity
# wins over the process's.
_acting_user: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "nbmlops_acting_user", default=None
)


def current_store() -> Store:
    """The store of the current settings."""
    return get_store(get_settings())


def current_user() -> str | None:
    """Who makes a change (registers, promotes, approves): the user a face authenticated
    (:func:`acting_as`), else ``NBMLOPS_USER``, else the operating-system user."""
    acting = _acting_user.get()
    if acting:
        return acting
    named = os.environ.get("NBMLOPS_USER", "").strip()
    if named:
        return named
    return process_identity()[1]


@contextmanager
def acting_as(user: str | None) -> Iterator[None]:
    """Record changes made inside the block as made by ``user`` (an authenticated identity)."""
    token = _acting_user.set(user or None)
    try:
        yield
    finally:
        _acting_user.reset(token)


def check_text(field: str, value: object) -> str:
    """``value`` if it is a string without NUL characters, else :class:`InvalidModel`."""
    if not isinstance(value, str):
        raise InvalidModel(f"{field} must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise InvalidModel(f"{field} cannot contain NUL characters")
    return value
