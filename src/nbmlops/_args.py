"""Checks of the arguments of public functions, so a wrong type or an unusable value is an
``InvalidArgumentType`` (a ``TypeError``) or ``InvalidArgument`` (a ``ValueError``) naming the
argument, never a raw ``AttributeError`` from deep inside.

Each helper takes the value and its name as the user wrote it (``"start_run(tags=...)"``)
and returns the value in the form the caller works with.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import InvalidArgument, InvalidArgumentType

# Seconds since the epoch that pandas can show as a date (1677-09-22 … 2262-04-11); beyond
# them building a datetime column fails, so times outside are refused when given.
MAX_EPOCH_S = 9_223_372_036.0

# Longer paths fail in the OS with ENAMETOOLONG; say so before.
_MAX_PATH = 4096
_MAX_PATH_PART = 255


def text(value: object, argument: str, *, optional: bool = False) -> str | None:
    """``value`` if it is a ``str`` that is valid Unicode (or None when ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentType(argument, "a string" + (" or None" if optional else ""), value)
    if not encodable(value):
        raise InvalidArgument(argument, not_unicode(value))
    return value


def encodable(value: str) -> bool:
    """Whether ``value`` has a UTF-8 encoding (a lone surrogate such as '\\ud800' has none,
    and no database or file can store it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def not_unicode(value: str) -> str:
    bad = next((ch for ch in value if 0xD800 <= ord(ch) <= 0xDFFF), "?")
    return (
        f"{value[:40]!r} is not valid Unicode: it holds the lone surrogate U+{ord(bad):04X}, "
        "which has no UTF-8 encoding (decode bytes with errors='replace' first)"
    )


def mapping(value: object, argument: str, *, optional: bool = False) -> dict[Any, Any]:
    """``value`` as a dict if it is a mapping (None → ``{}`` when ``optional``)."""
    if value is None and optional:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgumentType(argument, "a dict such as {'name': value}", value)
    return dict(value)


def strings(value: object, argument: str, *, optional: bool = False) -> list[str] | None:
    """A string or a list/tuple of strings, as a list (None stays None when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return list(value)
    raise InvalidArgumentType(argument, "a string or a list of strings", value)


def _is_label(value: object) -> bool:
    return isinstance(value, str) or (
        isinstance(value, numbers.Integral) and not isinstance(value, bool)
    )


def label(value: object, argument: str, *, optional: bool = False) -> Any:
    """A column label: a string or an integer (None when ``optional``)."""
    if value is None and optional:
        return None
    if not _is_label(value):
        raise InvalidArgumentType(argument, "a column name (a string or an integer)", value)
    return value


def labels(value: object, argument: str, *, optional: bool = False) -> list | None:
    """A list (or tuple) of column labels, or one label, as a list."""
    if value is None and optional:
        return None
    if _is_label(value):
        return [value]
    if isinstance(value, (list, tuple)) and all(_is_label(item) for item in value):
        return list(value)
    raise InvalidArgumentType(argument, "a list of column names", value)


def flag(value: object, argument: str) -> bool:
    """``value`` if it is a bool (numpy booleans included)."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise InvalidArgumentType(argument, "True or False", value)


def integer(
    value: object,
    argument: str,
    *,
    low: int | None = None,
    high: int | None = None,
    optional: bool = False,
) -> int | None:
    """``value`` as an int (numpy integers too, not bools) within ``low … high``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentType(argument, "an integer" + (" or None" if optional else ""), value)
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = (
            f"between {low} and {high}"
            if low is not None and high is not None
            else (f">= {low}" if low is not None else f"<= {high}")
        )
        raise InvalidArgument(argument, f"must be an integer {bounds}, got {number}")
    return number


def number(
    value: object, argument: str, *, optional: bool = False, positive: bool = False
) -> float | None:
    """``value`` as a finite float (``> 0`` when ``positive``)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentType(argument, "a number" + (" or None" if optional else ""), value)
    try:
        result = float(value)
    except (OverflowError, ValueError):
        result = math.nan
    if not math.isfinite(result) or (positive and result <= 0):
        raise InvalidArgument(
            argument,
            f"must be a finite number{' greater than 0' if positive else ''}, got {value!r}",
        )
    return result


def path(value: object, argument: str, *, optional: bool = False) -> Path | None:
    """``value`` as a ``Path`` if it is a str or ``os.PathLike`` the OS can take."""
    if value is None and optional:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidArgumentType(argument, "a path (str or pathlib.Path)", value)
    text_ = os.fspath(value)
    if not isinstance(text_, str):
        raise InvalidArgumentType(argument, "a path (str or pathlib.Path)", value)
    if not text_:
        raise InvalidArgument(argument, "the path is empty")
    if "\x00" in text_:
        raise InvalidArgument(argument, f"the path {text_!r:.80} contains a NUL character")
    try:
        os.fsencode(text_)  # undecodable bytes of a real file name (surrogateescape) pass
    except UnicodeEncodeError:
        raise InvalidArgument(argument, not_unicode(text_)) from None
    parts = (part.encode("utf-8", "surrogateescape") for part in text_.split("/"))
    if len(text_) > _MAX_PATH or any(len(part) > _MAX_PATH_PART for part in parts):
        raise InvalidArgument(
            argument,
            f"the path {text_[:60]!r}… is too long for the file system "
            f"(at most {_MAX_PATH} characters, {_MAX_PATH_PART} per folder or file name)",
        )
    return Path(text_)
