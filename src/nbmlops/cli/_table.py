"""Plain-text tables for the command line, without pandas (``nbmlops runs ls``).

Numbers are right-aligned; integers print as integers (a param ``n_estimators=50`` is ``50``,
never ``50.0``); the floats of a column share one precision (4 significant digits of the
smallest); missing values are blank.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence

MAX_TEXT = 40
SIGNIFICANT = 4
MAX_DECIMALS = 8
DEFAULT_PARAMS = 8
DEFAULT_METRICS = 6


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def captured_owners(columns: Sequence[str]) -> set[str]:
    """Variables whose estimator ``%%track`` captured: ``params.<name>.class`` marks one."""
    return {
        c[len("params.") : -len(".class")]
        for c in columns
        if c.startswith("params.") and c.endswith(".class") and c.count(".") >= 2
    }


def default_columns(columns: Sequence[str]) -> list[str]:
    """The attributes, the user's own params, then metrics; captured estimator
    hyper-parameters (``params.model.*``) and tags only on request (``--columns``)."""
    owners = captured_owners(columns)
    base = ["run_id", "experiment", "name", "status", "start_time", "duration_s"]
    params = [
        c
        for c in columns
        if c.startswith("params.") and c[len("params.") :].split(".")[0] not in owners
    ]
    metrics = [c for c in columns if c.startswith("metrics.")]
    return [c for c in base if c in columns] + params[:DEFAULT_PARAMS] + metrics[:DEFAULT_METRICS]


def _decimals(value: float) -> int:
    """Decimals that show ``value`` to 4 significant digits, no more than its repr has."""
    if value == 0 or not math.isfinite(value):
        return 1
    needed = max(1, SIGNIFICANT - 1 - math.floor(math.log10(abs(value))))
    text = repr(value)
    if "e" in text or "." not in text:
        return min(needed, MAX_DECIMALS)
    return max(1, min(needed, len(text.split(".")[1]), MAX_DECIMALS))


def _column_decimals(values: Sequence[object]) -> int:
    """One precision per column: what its most precise float needs (at least one decimal)."""
    floats = [v for v in values if isinstance(v, float) and not math.isnan(v)]
    return max((_decimals(v) for v in floats), default=1)


def _text(value: object, column: str, decimals: int) -> str:
    if _missing(value):
        return ""
    if column == "run_id":
        return str(value)[:8]
    if column == "start_time" and _is_number(value):
        moment = dt.datetime.fromtimestamp(float(value), dt.timezone.utc)
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if column == "duration_s" and _is_number(value):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.{decimals}f}" if math.isfinite(value) else str(value)
    if isinstance(value, (dict, list)):
        text = json.dumps(value, separators=(",", ":"), default=str)
    else:
        text = str(value)  # an int stays an int: 50, never 50.0
    text = " ".join(text.split())  # one line per run
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def render(records: Sequence[dict], columns: Sequence[str]) -> str:
    """``records`` as an aligned text table of ``columns`` (header included)."""
    decimals = [_column_decimals([r.get(c) for r in records]) for c in columns]
    cells = [
        [_text(r.get(c), c, d) for c, d in zip(columns, decimals, strict=True)] for r in records
    ]
    numeric = [
        all(_is_number(r.get(c)) or _missing(r.get(c)) for r in records)
        and c not in ("run_id", "start_time")
        for c in columns
    ]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(list(columns)), *(line(row) for row in cells)])


def to_json(records: Sequence[dict]) -> str:
    """JSON records; ``start_time`` as ISO 8601 UTC, NaN as null, integers as integers."""

    def clean(column: str, value: object) -> object:
        if _missing(value):
            return None
        if column == "start_time" and _is_number(value):
            moment = dt.datetime.fromtimestamp(float(value), dt.timezone.utc)
            return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return value

    return json.dumps([{c: clean(c, v) for c, v in r.items()} for r in records], default=str)
