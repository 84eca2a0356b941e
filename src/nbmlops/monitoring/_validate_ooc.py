"""Expectations learned from, and checked on, data larger than memory (:mod:`nbmlops.data`).

Every check is an aggregate on the engine, so the verdicts and failing counts equal the
in-memory ones: null counts, counts outside the range (an infinity is outside any range),
counts of values not allowed, and rows whose value occurs more than once. What differs:
examples of missing values are not row labels (a file has none), and the examples of other
values are the first few the engine finds. Learning uses exact order statistics for the
quantile band and at most ``max_categories + 1`` distinct values per column.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import MonitoringError

NUMERIC = ("integer", "float", "datetime")


def _seconds(value: Any) -> float:
    import pandas as pd

    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.value / 1e9


def _shown(value: float, family: str, aware: bool = True) -> Any:
    import pandas as pd

    if family == "datetime":
        stamp = pd.Timestamp(int(round(value * 1e9)), unit="ns", tz="UTC")
        return (stamp if aware else stamp.tz_localize(None)).isoformat()
    return float(value)


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _type_of(src, column: str) -> str:
    types = getattr(src, "types", None)
    if types is not None:
        return types[column]
    return str(src.frame.dtypes[column])


def fit_columns(expectations, src, column_expectation) -> dict:
    """One ``column_expectation`` per column of ``src``, as ``Expectations.fit`` learns."""
    low, high = expectations.quantile_band
    if not 0 <= low < high <= 1:
        raise MonitoringError(f"quantile_band must be 0 <= low < high <= 1, got {(low, high)}")
    profile = src.profile(src.columns)
    rows = src.num_rows
    numeric = [c for c in src.columns if src.families[c] in NUMERIC and profile[c]["n"]]
    band = {}
    if low > 0 or high < 1:
        # in memory the band is read from the non-missing values, infinities included: a
        # rank below the -inf count is -inf, one past the finite values +inf
        ranks, wanted = {}, {}
        for c in numeric:
            p = profile[c]
            n_all, neg = p["n"] + p["n_inf"], p["n_neg_inf"]
            floor = np.floor(np.array([low, high]) * (n_all - 1)).astype(int)
            wanted[c] = np.unique(np.concatenate([floor, np.minimum(floor + 1, n_all - 1)]))
            ranks[c] = np.clip(wanted[c] - neg, 0, p["n"] - 1)
        at = src.order_stats(ranks) if ranks else {}
        for c in ranks:
            p = profile[c]
            n_all, neg = p["n"] + p["n_inf"], p["n_neg_inf"]
            values = {}
            for k, v in zip(wanted[c].tolist(), at[c].tolist(), strict=True):
                values[k] = -np.inf if k < neg else (np.inf if k >= neg + p["n"] else v)

            def quantile(q: float, values=values, n=n_all) -> float:
                position = q * (n - 1)
                k = int(np.floor(position))
                upper = values[min(k + 1, n - 1)]
                if position == k:
                    return values[k]
                return values[k] + (upper - values[k]) * (position - k)

            band[c] = (quantile(low), quantile(high))
    columns = {}
    for c in src.columns:
        family = src.families[c]
        nulls = profile[c]["nulls"]
        exp = column_expectation(
            name=c,
            dtype=family,
            max_null_share=min(
                1.0, round((nulls / rows if rows else 0.0) + expectations.null_tolerance, 6)
            ),
        )
        if family in ("integer", "float") and c in numeric:
            as_value = int if family == "integer" else float  # min/max of integers are integers
            p = profile[c]
            lowest = -np.inf if p["n_neg_inf"] else as_value(p["min"])
            highest = np.inf if p["n_inf"] > p["n_neg_inf"] else as_value(p["max"])
            exp.min = band[c][0] if low > 0 else lowest
            exp.max = band[c][1] if high < 1 else highest
        elif family == "datetime" and c in numeric:
            aware = any(z in _type_of(src, c).upper() for z in ("TIME ZONE", "UTC", ", "))
            exp.min = _shown(profile[c]["min"], family, aware)
            exp.max = _shown(profile[c]["max"], family, aware)
        elif family in ("category", "string", "bool"):
            distinct = src.distinct(c, expectations.max_categories, numeric=False)
            if distinct is not None:
                exp.allowed = sorted((_plain(x) for x in distinct), key=str)
        present = rows - nulls
        if expectations.check_unique and family in ("integer", "string") and present >= 2:
            exp.unique = src.duplicated(c)[0] == 0
        columns[c] = exp
    return columns


def validate_rows(expectations, src, _row, accepts: dict) -> list[dict[str, Any]]:
    """The result rows of ``Expectations.validate`` for ``src`` (``_row`` builds one row,
    ``accepts`` maps an expected dtype family to the families that satisfy it)."""
    present = [c for c in expectations.columns_ if c in src.columns]
    profile = src.profile(present)
    n = src.num_rows
    rows: list[dict[str, Any]] = []
    for name, exp in expectations.columns_.items():
        if name not in src.columns:
            rows.append(_row(name, "present", "column exists", "missing", False, n))
            continue
        family = src.families[name]
        if exp.dtype is not None:
            ok = family in accepts.get(exp.dtype, {exp.dtype})
            observed = f"{family} ({_type_of(src, name)})"
            rows.append(_row(name, "dtype", exp.dtype, observed, ok, 0 if ok else n))
        nulls = profile[name]["nulls"]
        if exp.max_null_share is not None:
            share = nulls / n if n else 0.0
            rows.append(
                _row(
                    name,
                    "null share",
                    f"≤ {exp.max_null_share:.4g}",
                    round(share, 6),
                    share <= exp.max_null_share + 1e-12,
                    nulls if share > exp.max_null_share else 0,
                )
            )
        if (exp.min is not None or exp.max is not None) and exp.dtype in NUMERIC:
            rows.append(_range(exp, src, name, family, profile[name], n - nulls, _row))
        if exp.allowed is not None:
            count, unseen = src.not_in(name, list(exp.allowed))
            rows.append(
                _row(
                    name,
                    "allowed values",
                    f"{len(exp.allowed)} values",
                    f"{count} rows of other values" if count else "all allowed",
                    count == 0,
                    count,
                    [_plain(x) for x in unseen],
                )
            )
        if exp.unique:
            count, shown = src.duplicated(name)
            rows.append(
                _row(
                    name,
                    "unique",
                    "no duplicates",
                    f"{count} duplicated rows" if count else "unique",
                    count == 0,
                    count,
                    [_plain(x) for x in shown],
                )
            )
    return rows


def _range(exp, src, name: str, family: str, prof: dict, n_values: int, _row) -> dict[str, Any]:
    if family not in NUMERIC:
        # text in a numeric expectation: every value fails to compare, as in memory
        return _row(
            name,
            "range",
            f"[{_plain(exp.min)}, {_plain(exp.max)}]",
            "not numbers",
            n_values == 0,
            n_values,
        )
    as_number = _seconds if exp.dtype == "datetime" else float
    low = None if exp.min is None else as_number(exp.min)
    high = None if exp.max is None else as_number(exp.max)
    count, shown = src.outside(name, low, high)
    observed = (
        f"[{_shown(prof['min'], family)}, {_shown(prof['max'], family)}]"
        if prof.get("n")
        else "no values"
    )
    share = count / n_values if n_values else 0.0
    return _row(
        name,
        "range",
        f"[{_plain(exp.min)}, {_plain(exp.max)}]",
        observed,
        share <= exp.max_out_of_range_share,
        count,
        [_plain(x) for x in shown],
    )
