"""Cell text for table columns: one precision per column, integers as integers, and no
failure on whatever a column holds (NaN, None, ``pd.NA``, ``NaT``, lists, mixed types).

A params column mixes what users logged: ``50`` arrives as ``50.0`` when pandas made the
column float because another run has no value (NaN), so a number column whose values are
all whole is shown as integers; otherwise every value gets the same number of decimals
(enough for four significant digits of each value), so the points line up when the column
is right-aligned.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

MISSING = "—"
MAX_TEXT = 200  # longer values are cut (the cell shows an ellipsis and the full text on hover)
MAX_DECIMALS = 6


def is_missing(value: Any) -> bool:
    """None, NaN, ``pd.NA`` and ``NaT`` (anything pandas would call missing, for one value)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (str, bytes, bool, list, tuple, dict, set)):
        return False
    import numpy as np
    import pandas as pd

    try:
        result = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return isinstance(result, (bool, np.bool_)) and bool(result)


def is_number(value: Any) -> bool:
    """A real number that is not a bool (numpy scalars included)."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and type(value).__name__ != "bool_"
    )


def _is_whole(value: Any) -> bool:
    if isinstance(value, numbers.Integral):
        return True
    number = float(value)
    return math.isfinite(number) and number.is_integer() and abs(number) < 2**53


def _decimals(value: float) -> int | None:
    """Decimals that show ``value`` with four significant digits; None when it needs an
    exponent (very large or very small)."""
    if not math.isfinite(value) or value == 0:
        return 0
    text = f"{value:.4g}"
    if "e" in text:
        return None
    return len(text.split(".")[1]) if "." in text else 0


def text(value: Any) -> str:
    """One value as text (no column context): strings as they are, containers as Python
    shows them, times in UTC, missing values as a dash."""
    if is_missing(value):
        return MISSING
    if isinstance(value, str):
        out = value
    elif isinstance(value, float) or type(value).__name__.startswith("float"):
        out = f"{float(value):.4g}"
    elif isinstance(value, (dt.datetime, dt.date)) or hasattr(value, "strftime"):
        try:
            out = value.strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            out = MISSING
    else:
        try:
            out = str(value) if is_number(value) or isinstance(value, bool) else repr(value)
        except Exception:  # noqa: BLE001 - a broken __repr__ must not break a table
            out = f"<{type(value).__name__}>"
    return out if len(out) <= MAX_TEXT else out[: MAX_TEXT - 1] + "…"


def format_numbers(values: Sequence[Any]) -> list[str]:
    """Numbers (and missing values) with one format for the whole column."""
    present = [v for v in values if not is_missing(v)]
    if all(_is_whole(v) for v in present):
        return [MISSING if is_missing(v) else str(int(v)) for v in values]
    places = [_decimals(float(v)) for v in present if not _is_whole(v)]
    if any(p is None for p in places):
        return [MISSING if is_missing(v) else f"{float(v):.3e}" for v in values]
    decimals = min(max(places, default=0), MAX_DECIMALS)
    return [MISSING if is_missing(v) else f"{float(v):.{decimals}f}" for v in values]


def format_column(values: Iterable[Any]) -> tuple[list[str], str]:
    """``(texts, align)``: a column of numbers is right-aligned with one precision, anything
    else (strings, bools, lists, a mix) left-aligned, value by value."""
    values = list(values)
    present = [v for v in values if not is_missing(v)]
    if present and all(is_number(v) for v in present):
        return format_numbers(values), "right"
    return [text(v) for v in values], "left"


def short_id(value: Any, length: int = 8) -> str:
    """The first ``length`` characters of an id; empty when there is none (NaN on pandas 3)."""
    return "" if is_missing(value) else str(value)[:length]
