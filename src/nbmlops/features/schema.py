"""Schema enforcement: feature rows are checked against their view's fields before any write.

:func:`conform` returns the rows in the stored layout (join keys, timestamp, created timestamp,
fields; timestamps as naive UTC ``datetime64[us]``; nullable integer/bool/string dtypes) or
raises :class:`~nbmlops.errors.FeatureSchemaViolation` with a count per broken rule and example
rows. Naive timestamps are taken as UTC; aware ones are converted to UTC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import FeatureError, FeatureSchemaViolation
from .definition import FeatureView, Field

if TYPE_CHECKING:
    from collections.abc import Callable

EXAMPLES_PER_RULE = 5
_INT_BOUNDS = {"int64": (-(2**63), 2**63 - 1), "int32": (-(2**31), 2**31 - 1)}


def to_utc_naive(values: pd.Series | pd.Index | np.ndarray) -> pd.Series:
    """Timestamps as naive UTC ``datetime64[us]``; unparsable values become NaT."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        tz = getattr(series.dtype, "tz", None)
        if tz is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return series.astype("datetime64[us]")
    converted = pd.to_datetime(series, utc=True, errors="coerce", format="mixed")
    return converted.dt.tz_localize(None).astype("datetime64[us]")


def each(series: pd.Series, predicate) -> np.ndarray:
    """``predicate`` of every value, as a numpy bool array (whatever the dtype)."""
    return np.fromiter((bool(predicate(v)) for v in series), dtype=bool, count=len(series))


def _isna(series: pd.Series) -> np.ndarray:
    return series.isna().to_numpy(dtype=bool)


class _Checker:
    def __init__(self, frame: pd.DataFrame, context: list[str]):
        self.frame = frame
        self.context = context
        self.counts: list[tuple[str, str, int]] = []
        self.examples: list[pd.DataFrame] = []

    def flag(self, column: str, rule: str, mask: np.ndarray | pd.Series) -> None:
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if not n:
            return
        self.counts.append((column, rule, n))
        cols = [c for c in [*self.context, column] if c in self.frame.columns]
        cols = list(dict.fromkeys(cols))
        example = self.frame.loc[mask, cols].head(EXAMPLES_PER_RULE).copy()
        example.insert(0, "rule", rule)
        example.insert(0, "column", column)
        self.examples.append(example)

    def raise_if_any(self, view: str) -> None:
        if not self.counts:
            return
        counts = pd.DataFrame(self.counts, columns=["column", "rule", "count"])
        examples = pd.concat(self.examples) if self.examples else pd.DataFrame()
        raise FeatureSchemaViolation(view, counts, examples)


def _numeric(series: pd.Series, check: _Checker, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype):
        check.flag(name, "dtype (bool where a number is declared)", series.notna())
        return pd.Series(np.nan, index=series.index)
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna() & series.notna()
    if series.dtype == object:
        bad |= each(series, lambda v: isinstance(v, bool))
    check.flag(name, "dtype (not a number)", bad)
    return converted.where(~bad)


def _field_values(field: Field, series: pd.Series, check: _Checker) -> pd.Series:
    name, kind = field.name, field.kind
    if kind == "float":
        values = _numeric(series, check, name).astype(field.dtype)
    elif kind == "int":
        numbers = _numeric(series, check, name)
        floats = numbers.astype("float64")
        lo, hi = _INT_BOUNDS[field.dtype]
        with np.errstate(invalid="ignore"):
            bad = floats.notna() & (
                (floats != np.floor(floats)) | (floats < lo) | (floats > hi) | np.isinf(floats)
            )
        check.flag(name, f"dtype (not an {field.dtype} integer)", bad)
        values = numbers.where(~bad).astype(field.pandas_dtype)
    elif kind == "bool":
        if pd.api.types.is_bool_dtype(series.dtype):
            values = series.astype("boolean")
        else:
            ok = each(series, lambda v: isinstance(v, (bool, np.bool_))) | _isna(series)
            check.flag(name, "dtype (not a bool)", ~ok)
            values = series.where(ok & ~_isna(series), None).astype("boolean")
    elif kind == "string":
        ok = each(series, lambda v: isinstance(v, str)) | _isna(series)
        check.flag(name, "dtype (not a string)", ~ok)
        values = series.where(ok, None).astype("string")
    else:  # datetime
        values = to_utc_naive(series)
        check.flag(name, "dtype (not a timestamp)", values.isna() & series.notna())
    return values


def _check_rules(field: Field, values: pd.Series, check: _Checker, given: pd.Series) -> None:
    """Nullability on the ``given`` values (a value of the wrong dtype is flagged as such, not
    also as a null); ranges and allowed values on the converted ``values``."""
    name = field.name
    nulls = values.isna().to_numpy(dtype=bool)
    if not field.nullable:
        check.flag(name, "null in a non-nullable field", _isna(given))
    if field.min is not None or field.max is not None:
        present = values[~nulls]
        if field.kind == "datetime":
            lo = None if field.min is None else pd.Timestamp(field.min).tz_localize(None)
            hi = None if field.max is None else pd.Timestamp(field.max).tz_localize(None)
        else:
            lo, hi = field.min, field.max
        below = np.zeros(len(values), dtype=bool)
        above = np.zeros(len(values), dtype=bool)
        if lo is not None:
            below[~nulls] = (present < lo).to_numpy(dtype=bool)
            check.flag(name, f"below min {field.min}", below)
        if hi is not None:
            above[~nulls] = (present > hi).to_numpy(dtype=bool)
            check.flag(name, f"above max {field.max}", above)
    if field.allowed is not None:
        allowed = set(field.allowed)
        outside = ~nulls & ~each(values, lambda v: pd.isna(v) or v in allowed)
        check.flag(name, "not an allowed value", outside)


def _key_values(key: str, series: pd.Series, check: _Checker) -> pd.Series:
    check.flag(key, "null join key", series.isna())
    if pd.api.types.is_integer_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("int64") if not series.isna().any() else series
    if pd.api.types.is_float_dtype(series.dtype):
        integral = series.isna() | (series == np.floor(series))
        check.flag(key, "dtype (join keys are integers or strings)", ~integral)
        return series.astype("Int64") if integral.all() else series
    ok = each(series, lambda v: isinstance(v, str)) | _isna(series)
    check.flag(key, "dtype (join keys are integers or strings)", ~ok)
    return series.astype("string") if ok.all() else series


def conform(view: FeatureView, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` in the stored layout of ``view``; raise FeatureSchemaViolation if any breaks."""
    if not isinstance(rows, pd.DataFrame):
        raise FeatureError(
            f"feature rows for view {view.name!r} must be a pandas DataFrame, "
            f"not {type(rows).__name__}"
        )
    if rows.columns.duplicated().any():
        dups = sorted({str(c) for c in rows.columns[rows.columns.duplicated()]})
        raise FeatureError(f"feature rows for view {view.name!r} repeat columns {dups}")
    frame = rows.reset_index(drop=True)
    context = [*view.join_keys, view.timestamp]
    check = _Checker(frame, context)
    wanted = [*view.join_keys, view.timestamp]
    if view.created_timestamp:
        wanted.append(view.created_timestamp)
    wanted += view.feature_names
    for column in wanted:
        if column not in frame.columns:
            check.flag(column, "missing column", np.ones(len(frame), dtype=bool))
    missing = {c for c, r, _ in check.counts if r == "missing column"}
    if missing:
        counts = pd.DataFrame(
            [(c, "missing column", len(frame)) for c in sorted(missing)],
            columns=["column", "rule", "count"],
        )
        raise FeatureSchemaViolation(view.name, counts, pd.DataFrame(columns=["column", "rule"]))

    out: dict[str, pd.Series] = {}
    for key in view.join_keys:
        out[key] = _key_values(key, frame[key], check)
    stamps: list[tuple[str, Callable]] = [(view.timestamp, to_utc_naive)]
    if view.created_timestamp:
        stamps.append((view.created_timestamp, to_utc_naive))
    for column, convert in stamps:
        values = convert(frame[column])
        bad = values.isna() & frame[column].notna()
        check.flag(column, "dtype (not a timestamp)", bad)
        if column == view.timestamp:
            check.flag(column, "null event timestamp", frame[column].isna())
        out[column] = values
    for field in view.fields:
        values = _field_values(field, frame[field.name], check)
        _check_rules(field, values, check, frame[field.name])
        out[field.name] = values
    check.raise_if_any(view.name)
    return pd.DataFrame(out, index=frame.index)
