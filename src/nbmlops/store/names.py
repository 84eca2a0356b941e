"""Model names and version numbers: the keys of the model tables, checked before any query.

Used by the registry and by the prediction log (which sits below it), so a bad name fails the
same way wherever it is given.
"""

from __future__ import annotations

import numbers
import re

from ..errors import InvalidModel

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}")


def model_name(name: object) -> str:
    """``name`` if it is a valid model name, else :class:`InvalidModel` saying what is allowed."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidModel(
            f"invalid model name {name!r}: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter (e.g. 'churn' or 'churn-gbm')"
        )
    return name


# Versions are 32-bit integers in the store (PostgreSQL INTEGER): a larger number names no
# version and would overflow the query.
MAX_VERSION = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,12}")


def version_number(version: object) -> int:
    """``version`` (an int, numpy integer or string of ASCII digits) as an int in
    ``1 … MAX_VERSION``, else :class:`InvalidModel`."""
    if isinstance(version, str) and _DIGITS.fullmatch(version):
        version = int(version)
    if isinstance(version, numbers.Integral) and not isinstance(version, bool):
        version = int(version)  # numpy integers, e.g. from model_versions()
        if 1 <= version <= MAX_VERSION:
            return version
    shown = repr(version) if len(repr(version)) <= 40 else repr(version)[:40] + "…"
    raise InvalidModel(
        f"a model version is a positive integer of at most {MAX_VERSION}, got {shown}"
    )
