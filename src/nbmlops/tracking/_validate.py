"""Checks on everything a user logs, done before anything is written."""

from __future__ import annotations

import json
import math
import numbers
import os
import time

from .._args import MAX_EPOCH_S, encodable, not_unicode
from ..errors import InvalidKey, InvalidMetric, InvalidParam

MAX_KEY_LEN = 250
MAX_VALUE_LEN = 8000
_KEY_PUNCTUATION = set("_-./ :")
_INT64 = 2**63


def key(kind: str, name: object) -> str:
    """Return ``name`` if it is a valid param/metric/tag/data name, else raise ``InvalidKey``.

    Names are 1-250 characters: letters, digits and ``_ - . / : space``, not starting or
    ending with a space.
    """
    if not isinstance(name, str):
        raise InvalidKey(kind, name, f"names are strings, not {type(name).__name__}")
    if not name:
        raise InvalidKey(kind, name, "the name is empty")
    if len(name) > MAX_KEY_LEN:
        raise InvalidKey(kind, name[:40] + "…", f"longer than {MAX_KEY_LEN} characters")
    if name != name.strip():
        raise InvalidKey(kind, name, "it starts or ends with whitespace")
    bad = sorted({ch for ch in name if not (ch.isalnum() or ch in _KEY_PUNCTUATION)})
    if bad:
        raise InvalidKey(
            kind,
            name,
            f"characters {''.join(bad)!r} are not allowed "
            "(use letters, digits and _ - . / : or space)",
        )
    return name


def metric_value(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        item = getattr(value, "item", None)  # 0-d numpy arrays and similar scalars
        if callable(item) and getattr(value, "ndim", None) == 0:
            try:
                value = item()
            except Exception:  # noqa: BLE001 - any failure means "not a number"
                pass
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InvalidMetric(
                name,
                value,
                f"metrics are real numbers, not {type(value).__name__}; "
                "log text as a tag or param instead",
            )
    try:
        return float(value)
    except (OverflowError, ValueError, TypeError) as exc:
        raise InvalidMetric(name, value, f"cannot convert it to a float ({exc})") from None


def metric_step(name: str, step: object) -> int:
    if step is None:
        return 0
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidMetric(name, step, "step must be an integer")
    step = int(step)
    if not -_INT64 <= step < _INT64:
        raise InvalidMetric(name, step, "step does not fit in 64 bits")
    return step


# Beyond these seconds since the epoch metric_history() cannot build its timestamp column.
_MAX_TIMESTAMP_S = MAX_EPOCH_S


def metric_timestamp(name: str, timestamp: object) -> float:
    """``timestamp`` in seconds since the epoch (``time.time()``), or ``InvalidMetric``."""
    if timestamp is None:
        return time.time()
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Real):
        raise InvalidMetric(name, timestamp, "timestamp must be seconds since the epoch")
    try:
        seconds = float(timestamp)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds):
        raise InvalidMetric(name, timestamp, "timestamp must be finite seconds since the epoch")
    if abs(seconds) > _MAX_TIMESTAMP_S:
        unit = next(
            (unit for unit, scale in _UNITS if abs(seconds) / scale <= _MAX_TIMESTAMP_S), None
        )
        hint = f"; it looks like {unit}: divide by {_SCALES[unit]:g}" if unit else ""
        raise InvalidMetric(
            name,
            timestamp,
            "timestamp is in seconds since the epoch, as time.time() gives (years 1677-2262)"
            + hint,
        )
    return seconds


_UNITS = (("milliseconds", 1e3), ("microseconds", 1e6), ("nanoseconds", 1e9))
_SCALES = dict(_UNITS)


def _jsonable(value: object) -> object:
    """``json.dumps`` fallback: numpy scalars and paths become plain values."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()  # type: ignore[union-attr]
    if (
        hasattr(value, "tolist")
        and getattr(value, "ndim", 2) <= 1
        and getattr(value, "size", 1e9) <= 100
    ):
        return value.tolist()  # type: ignore[union-attr]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)  # type: ignore[type-var]
        except TypeError:
            pass
    raise TypeError(f"{type(value).__name__} is not serialisable")


def _non_string_key(value: object) -> tuple[bool, object]:
    """``(True, key)`` for the first dict key in ``value`` (at any depth) that is not a str."""
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:  # a value that contains itself: json.dumps reports it
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, str):
                    return True, key
                stack.append(inner)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False, None


def param_json(name: str, value: object) -> str:
    """JSON text of a param value; raise ``InvalidParam`` for values that cannot be stored."""
    found, key = _non_string_key(value)
    if found:
        # JSON would turn {1: "a"} into {"1": "a"}: the value would read back changed.
        raise InvalidParam(
            name,
            value,
            f"dict keys must be strings, got {type(key).__name__} {key!r:.40}; "
            "convert them first, e.g. {str(k): v for k, v in value.items()}",
        )
    try:
        text = json.dumps(value, default=_jsonable, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidParam(
            name,
            value,
            f"{exc}; params are numbers, strings, booleans, None or lists/dicts "
            "of them: log str(value) if its text is what you want",
        ) from None
    except RecursionError:
        raise InvalidParam(name, value, "it refers to itself") from None
    if len(text) > MAX_VALUE_LEN:
        raise InvalidParam(
            name,
            value,
            f"its JSON is {len(text)} characters, more than {MAX_VALUE_LEN}; "
            "log large values as an artifact (log_dict / log_text)",
        )
    if not encodable(text):
        raise InvalidParam(name, value, not_unicode(text))
    return text


def tag_value(name: str, value: object) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, numbers.Number):
        text = str(value)
    else:
        raise InvalidParam(name, value, "tag values are strings (or numbers/booleans)")
    if "\x00" in text:
        raise InvalidParam(name, value, "tag values cannot contain NUL characters")
    if not encodable(text):
        raise InvalidParam(name, value, not_unicode(text))
    if len(text) > MAX_VALUE_LEN:
        raise InvalidParam(name, value, f"longer than {MAX_VALUE_LEN} characters")
    return text
