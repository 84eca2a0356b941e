"""Where a registry call acts and who makes it: the workspace store, the user, and the check
of free text (descriptions, reasons) they write."""

from __future__ import annotations

from ..config import get_settings
from ..errors import InvalidModel
from ..store import Store, get_store
from ..tracking.environment import process_identity


def current_store() -> Store:
    """The store of the current settings."""
    return get_store(get_settings())


def current_user() -> str | None:
    """The user recorded with a change (who registered, promoted, deleted)."""
    return process_identity()[1]


def check_text(field: str, value: object) -> str:
    """``value`` if it is a string without NUL characters, else :class:`InvalidModel`."""
    if not isinstance(value, str):
        raise InvalidModel(f"{field} must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise InvalidModel(f"{field} cannot contain NUL characters")
    return value
