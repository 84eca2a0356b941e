"""``drift_report``: per-column drift between a reference and a current DataFrame.

Test choice (``method="auto"``), per column, on its non-missing values:

============  ======================  =========================================
column        reference ≤ 1000 values  reference > 1000 values
============  ======================  =========================================
numeric       ``ks`` (p-value)         ``wasserstein`` (normalized, ≥ 0.1)
categorical   ``chi2`` (p-value)       ``jensenshannon`` (≥ 0.1)
============  ======================  =========================================

Numeric columns with at most 5 distinct values are compared as categories; booleans, strings
and pandas categoricals are categorical; datetimes are compared as seconds since 1970 (noted).
p-values are corrected for multiple testing across columns (Benjamini-Hochberg by default)
and a column drifts when its adjusted p-value is below the threshold (0.05). PSI is reported
for every column, and orders the summary.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _args
from ..errors import InvalidArgumentType, MonitoringError
from . import _drift_ooc as _ooc
from . import stats
from ._column import ColumnDrift
from ._drift_rules import (
    DEFAULT_THRESHOLDS,
    ECDF_POINTS,
    FEW_VALUES,
    HIST_BINS,
    METHODS,
    P_VALUE_METHODS,
    PROGRESS_CELLS,
    TOP_SEGMENTS,
    _categorical_plot,
    _choose,
    _fmt,
    _round,
    note_missing,
    require_same_columns,
)

# -- preparing a column ------------------------------------------------------------------------


@dataclass
class _Prepared:
    kind: str
    ref: Any  # numeric: sorted float array; categorical: pandas Series of values
    cur: Any
    n_ref_total: int
    n_cur_total: int
    notes: list[str]


def _is_categorical_dtype(series) -> bool:
    import pandas as pd

    dtype = series.dtype
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def _numeric_values(series, notes: list[str], side: str) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = series.dropna()
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return values.astype("datetime64[ns]").astype("int64").to_numpy() / 1e9
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    infinite = np.isinf(values)
    if infinite.any():
        notes.append(f"{int(infinite.sum())} infinite values in {side} ignored")
    return values[np.isfinite(values)]


def _prepare(column: str, reference, current, categorical: set[str]) -> _Prepared:
    import pandas as pd

    notes: list[str] = []
    ref_s, cur_s = reference[column], current[column]
    is_datetime = [pd.api.types.is_datetime64_any_dtype(s.dtype) for s in (ref_s, cur_s)]
    if any(is_datetime) and not all(is_datetime):
        raise MonitoringError(
            f"column {column!r} is a datetime in one frame and not in the other "
            f"({ref_s.dtype} vs {cur_s.dtype}); convert both the same way"
        )
    if column in categorical or _is_categorical_dtype(ref_s) or _is_categorical_dtype(cur_s):
        if (
            column not in categorical
            and (
                pd.api.types.is_numeric_dtype(ref_s.dtype)
                != pd.api.types.is_numeric_dtype(cur_s.dtype)
            )
            and not (pd.api.types.is_bool_dtype(ref_s) and pd.api.types.is_bool_dtype(cur_s))
        ):
            notes.append(f"dtypes differ ({ref_s.dtype} vs {cur_s.dtype}): compared as categories")
        ref_v, cur_v = _category_values(ref_s), _category_values(cur_s)
        return _Prepared("categorical", ref_v, cur_v, len(ref_s), len(cur_s), notes)
    kind = "datetime" if all(is_datetime) else "numeric"
    if kind == "datetime":
        notes.append("datetimes compared as seconds since 1970-01-01 UTC")
    ref_v = _numeric_values(ref_s, notes, "reference")
    cur_v = _numeric_values(cur_s, notes, "current")
    ref_v.sort()
    cur_v.sort()
    if kind == "numeric" and _few_distinct(ref_v, cur_v):
        n_distinct = len(np.unique(np.concatenate([ref_v, cur_v])))
        notes.append(f"{n_distinct} distinct values: compared as categories")
        return _Prepared(
            "categorical", pd.Series(ref_v), pd.Series(cur_v), len(ref_s), len(cur_s), notes
        )
    return _Prepared(kind, ref_v, cur_v, len(ref_s), len(cur_s), notes)


def _few_distinct(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> bool:
    """At most FEW_VALUES distinct values across both sorted arrays (and at least one)."""
    distinct = []
    for values in (ref_sorted, cur_sorted):
        if len(values) == 0:
            continue
        if np.count_nonzero(values[1:] != values[:-1]) + 1 > FEW_VALUES:
            return False
        distinct.append(values[np.concatenate([[True], values[1:] != values[:-1]])])
    return bool(distinct) and len(np.unique(np.concatenate(distinct))) <= FEW_VALUES


def _category_values(series):
    values = series.dropna()
    if values.dtype == object:
        # Mixed types (1 and "1") must not collide: keep them apart by type and value.
        is_text = values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
        if not is_text.all():
            others = {repr(v) for v in values[~is_text].unique()}
            # 1 and "1" must stay apart: a string that looks like another value is quoted.
            values = values.map(
                lambda v: (repr(v) if v in others else v) if isinstance(v, str) else repr(v)
            )
    return values


# -- one column --------------------------------------------------------------------------------


def _numeric_column(col: ColumnDrift, prep: _Prepared, method: str) -> None:
    ref, cur = prep.ref, prep.cur
    edges = stats.quantile_edges(ref)
    ref_counts, cur_counts = stats.bin_counts(ref, edges), stats.bin_counts(cur, edges)
    col.psi = stats.psi(ref_counts, cur_counts)
    col._bins = ("numeric", edges)
    if method == "ks":
        col.statistic, col.p_value = stats.ks_test(ref, cur)
    elif method == "wasserstein":
        col.statistic = stats.wasserstein_normalized(ref, cur)
    elif method == "jensenshannon":
        col.statistic = stats.jensen_shannon(ref_counts, cur_counts)
    elif method == "chi2":
        col.statistic, col.p_value = stats.chi2_test(ref_counts, cur_counts)
    else:
        col.statistic = col.psi
    if ref[0] == ref[-1]:
        col.notes.append(f"constant in reference ({_fmt(ref[0])})")
    if cur[0] == cur[-1] and len(cur) > 1:
        col.notes.append(f"constant in current ({_fmt(cur[0])})")
    col.plot = _numeric_plot(ref, cur)


def _numeric_plot(ref: np.ndarray, cur: np.ndarray) -> dict[str, Any]:
    both_lo, both_hi = min(ref[0], cur[0]), max(ref[-1], cur[-1])
    # Tails beyond the 0.5-99.5 percentiles would squash the interesting part of the plot.
    lo = min(stats.sorted_quantile(ref, 0.005), stats.sorted_quantile(cur, 0.005))
    hi = max(stats.sorted_quantile(ref, 0.995), stats.sorted_quantile(cur, 0.995))
    if not hi > lo:
        lo, hi = both_lo - 0.5, both_hi + 0.5
    edges = np.linspace(lo, hi, HIST_BINS + 1)
    ref_counts = np.diff(np.searchsorted(ref, edges, side="left"))
    cur_counts = np.diff(np.searchsorted(cur, edges, side="left"))
    ref_counts[-1] += np.sum(ref == edges[-1])
    cur_counts[-1] += np.sum(cur == edges[-1])
    qs = np.linspace(0, 1, ECDF_POINTS)
    return {
        "type": "numeric",
        "edges": _round(edges),
        "reference": _round(ref_counts / len(ref)),
        "current": _round(cur_counts / len(cur)),
        "ecdf_q": _round(qs),
        "ecdf_reference": _round(stats.sorted_quantile(ref, qs)),
        "ecdf_current": _round(stats.sorted_quantile(cur, qs)),
        "mean": [float(ref.mean()), float(cur.mean())],
        "std": [float(ref.std()), float(cur.std())],
        "quantiles": {
            str(q): [float(stats.sorted_quantile(ref, q)), float(stats.sorted_quantile(cur, q))]
            for q in (0.05, 0.5, 0.95)
        },
    }


def _categorical_column(col: ColumnDrift, prep: _Prepared, method: str) -> None:
    import pandas as pd

    ref_counts_s = _value_counts(prep.ref)
    cur_counts_s = _value_counts(prep.cur)
    keys = ref_counts_s.index.union(cur_counts_s.index, sort=False)
    ref_counts = ref_counts_s.reindex(keys, fill_value=0).to_numpy(dtype=float)
    cur_counts = cur_counts_s.reindex(keys, fill_value=0).to_numpy(dtype=float)
    col.psi = stats.psi(ref_counts, cur_counts)
    col._bins = ("categorical", pd.Index(keys))
    if method == "chi2":
        col.statistic, col.p_value = stats.chi2_test(ref_counts, cur_counts)
    elif method == "jensenshannon":
        col.statistic = stats.jensen_shannon(ref_counts, cur_counts)
    else:  # psi
        col.statistic = col.psi
    unseen = [k for k, r, c in zip(keys, ref_counts, cur_counts, strict=True) if r == 0 and c > 0]
    if unseen:
        share = cur_counts[ref_counts == 0].sum() / max(cur_counts.sum(), 1)
        shown = ", ".join(map(str, unseen[:5])) + (" …" if len(unseen) > 5 else "")
        col.notes.append(
            f"{len(unseen)} categories unseen in reference ({shown}): {share:.1%} of current rows"
        )
    gone = int(((ref_counts > 0) & (cur_counts == 0)).sum())
    if gone:
        col.notes.append(f"{gone} reference categories absent from current")
    if (ref_counts > 0).sum() == 1:
        col.notes.append("constant in reference")
    col.plot = _categorical_plot(keys, ref_counts, cur_counts)


def _value_counts(values):
    """Counts of the values present (a categorical's unused levels are not values)."""
    import pandas as pd

    counts = values.value_counts(sort=False)
    counts = counts[counts > 0]
    if isinstance(counts.index, pd.CategoricalIndex):
        counts.index = pd.Index(counts.index.astype(object), dtype=object)
    return counts


def column_drift(
    column: str,
    reference,
    current,
    role: str,
    method: str,
    threshold: float | None,
    categorical: set[str],
) -> ColumnDrift:
    """Compute the drift of one column (its p-value is corrected later, with the others)."""
    prep = _prepare(column, reference, current, categorical)
    n_ref, n_cur = len(prep.ref), len(prep.cur)
    col = ColumnDrift(
        column=column,
        role=role,
        kind=prep.kind,
        method=None,
        statistic=None,
        p_value=None,
        threshold=None,
        psi=0.0,
        n_reference=n_ref,
        n_current=n_cur,
        null_reference=1 - n_ref / prep.n_ref_total if prep.n_ref_total else 0.0,
        null_current=1 - n_cur / prep.n_cur_total if prep.n_cur_total else 0.0,
        notes=list(prep.notes),
    )
    if note_missing(col, n_ref, n_cur):
        return col
    chosen = _choose(method, prep.kind, n_ref, column)
    col.method = chosen
    col.threshold = DEFAULT_THRESHOLDS[chosen] if threshold is None else float(threshold)
    if prep.kind == "categorical":
        _categorical_column(col, prep, chosen)
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # values near ±1e308
            _numeric_column(col, prep, chosen)
    if chosen not in P_VALUE_METHODS:
        col.drifted = bool(col.statistic >= col.threshold)
    return col


# -- segments ----------------------------------------------------------------------------------


def _segment_codes(reference, current, segment: str):
    import pandas as pd

    ref_s = reference[segment].astype(object).where(reference[segment].notna(), "(missing)")
    cur_s = current[segment].astype(object).where(current[segment].notna(), "(missing)")
    codes, labels = pd.factorize(pd.concat([ref_s, cur_s], ignore_index=True), sort=False)
    return codes[: len(ref_s)], codes[len(ref_s) :], [str(x) for x in labels]


def _bin_index(col: ColumnDrift, series) -> tuple[np.ndarray, np.ndarray]:
    """``(bin index, valid mask)`` of each row of ``series`` in the column's PSI bins."""
    import pandas as pd

    kind, bins = col._bins
    if kind == "numeric":
        notes: list[str] = []
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            valid = series.notna().to_numpy()
            values = np.full(len(series), np.nan)
            values[valid] = _numeric_values(series, notes, "")
        else:
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            valid = np.isfinite(values)
        index = np.searchsorted(bins, np.where(valid, values, 0.0), side="right")
        return index, valid
    values = _category_values(series.where(series.notna(), None)).reindex(series.index)
    index = bins.get_indexer(values)
    valid = index >= 0
    return np.where(valid, index, 0), valid


def segment_attribution(col: ColumnDrift, reference, current, segment: str) -> list[dict]:
    """Rank the values of ``segment`` by their share of the column's PSI.

    PSI = Σ_b (c_b − r_b)·ln(c_b / r_b); splitting c_b − r_b into each segment's rows gives
    an additive contribution per segment: Σ_b (c_sb/N_c − r_sb/N_r)·ln(c_b / r_b).
    """
    if col._bins is None:
        return []
    ref_codes, cur_codes, labels = _segment_codes(reference, current, segment)
    ref_bins, ref_ok = _bin_index(col, reference[col.column])
    cur_bins, cur_ok = _bin_index(col, current[col.column])
    n_bins = (len(col._bins[1]) + 1) if col._bins[0] == "numeric" else len(col._bins[1])
    k = len(labels)
    ref_table = (
        np.bincount(ref_codes[ref_ok] * n_bins + ref_bins[ref_ok], minlength=k * n_bins)
        .reshape(k, n_bins)
        .astype(float)
    )
    cur_table = (
        np.bincount(cur_codes[cur_ok] * n_bins + cur_bins[cur_ok], minlength=k * n_bins)
        .reshape(k, n_bins)
        .astype(float)
    )
    n_ref, n_cur = ref_table.sum(), cur_table.sum()
    if n_ref == 0 or n_cur == 0:
        return []
    r = np.maximum(ref_table.sum(axis=0) / n_ref, stats.PSI_EPS)
    c = np.maximum(cur_table.sum(axis=0) / n_cur, stats.PSI_EPS)
    log_ratio = np.log(c / r)
    contribution = ((cur_table / n_cur - ref_table / n_ref) * log_ratio).sum(axis=1)
    total = contribution.sum()
    rows = []
    for i in np.argsort(-contribution, kind="stable")[:TOP_SEGMENTS]:
        ref_rows, cur_rows = ref_table[i].sum(), cur_table[i].sum()
        own = stats.psi(ref_table[i], cur_table[i]) if ref_rows and cur_rows else math.nan
        rows.append(
            {
                "segment": segment,
                "value": labels[i],
                "contribution": float(contribution[i]),
                "share_of_psi": float(contribution[i] / total) if total > 0 else math.nan,
                "rows_reference": float(ref_rows / n_ref),
                "rows_current": float(cur_rows / n_cur),
                "segment_psi": float(own),
            }
        )
    return rows


# -- the report --------------------------------------------------------------------------------


def _per_column(option, column: str, default):
    if isinstance(option, dict):
        return option.get(column, default)
    return default if option is None else option


def _check_columns(reference, current, columns, roles: list[str], segments: list[str]) -> list[str]:
    """The feature columns to compare (target and prediction excluded), after checking that
    every named column is in both frames."""
    import pandas as pd

    for name, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise MonitoringError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    ref_cols = [str(c) for c in reference.columns]
    cur_cols = [str(c) for c in current.columns]
    if len(set(ref_cols)) != len(ref_cols) or len(set(cur_cols)) != len(cur_cols):
        raise MonitoringError("column names must be unique in both frames")
    if columns is None:
        require_same_columns(ref_cols, cur_cols)
        chosen = [c for c in ref_cols if c not in roles]
    else:
        if isinstance(columns, str):
            columns = [columns]
        chosen = [str(c) for c in columns]
        missing = {
            "reference": [c for c in chosen if c not in ref_cols],
            "current": [c for c in chosen if c not in cur_cols],
        }
        problems = [
            f"{side} lacks {', '.join(map(repr, cols))}" for side, cols in missing.items() if cols
        ]
        if problems:
            raise MonitoringError("; ".join(problems))
    extra = [*roles, *segments]
    lacking = {
        side: [c for c in extra if c not in cols]
        for side, cols in (("reference", ref_cols), ("current", cur_cols))
    }
    problems = [
        f"{side} lacks {', '.join(map(repr, cols))}" for side, cols in lacking.items() if cols
    ]
    if problems:
        raise MonitoringError(
            "; ".join(problems) + " (target, prediction and segments must be in both frames)"
        )
    if not chosen and not extra:
        raise MonitoringError("no columns to compare")
    return chosen


def drift_report(
    reference,
    current,
    target: str | None = None,
    prediction: str | None = None,
    columns: list[str] | None = None,
    categorical: list[str] | None = None,
    method: str | dict[str, str] = "auto",
    threshold: float | dict[str, float] | None = None,
    correction: str | None = "fdr_bh",
    segments: list[str] | str | None = None,
    drift_share: float = 0.5,
    progress: bool | None = None,
    engine: str | None = None,
    scheduler=None,
):
    """Compare ``current`` with ``reference`` column by column; return a :class:`DriftReport`.

    ``method`` and ``threshold`` take one value for all columns or a dict per column.
    ``segments`` names columns whose values are ranked by how much of each drifted column's
    PSI they explain. The dataset drifts when at least ``drift_share`` of the feature columns
    drift. ``target`` and ``prediction`` are checked for drift too, and when both are in both
    frames the model's performance in each frame is compared.

    Either frame may also be data larger than memory: a Parquet/CSV path or fsspec URL (file,
    folder, glob), a DuckDB relation, a pyarrow Dataset or a Dask DataFrame. The report is
    then computed by aggregation on ``engine`` (``"duckdb"``, the default, or ``"dask"`` on
    ``scheduler``: a Client, an address, or a local cluster), with the same tests; see
    :mod:`nbmlops.monitoring._drift_ooc` for which statistics are exact and which bounded.

    >>> import nbmlops
    >>> report = nbmlops.drift_report(train_df, last_week_df, segments=["country"])  # doctest: +SKIP
    >>> report.drifted_columns  # doctest: +SKIP
    """
    from .performance import performance_drift

    started = time.perf_counter()
    where = "drift_report({}=...)".format
    segments = _args.labels(segments, where("segments"), optional=True) or []
    target = _args.label(target, where("target"), optional=True)
    prediction = _args.label(prediction, where("prediction"), optional=True)
    columns = _args.labels(columns, where("columns"), optional=True)
    categorical = _args.labels(categorical, where("categorical"), optional=True)
    if not isinstance(method, (str, dict)):
        raise InvalidArgumentType(where("method"), "a method name or a dict per column", method)
    if correction is not None and not isinstance(correction, str):
        raise InvalidArgumentType(where("correction"), "a correction name or None", correction)
    if progress is not None:
        progress = _args.flag(progress, where("progress"))
    drift_share = _args.number(drift_share, where("drift_share"))
    roles = {c: r for c, r in ((target, "target"), (prediction, "prediction")) if c is not None}
    if not 0 < drift_share <= 1:
        raise MonitoringError(f"drift_share is a fraction in (0, 1], got {drift_share!r}")
    from ..data import as_source, is_out_of_core

    out_of_core = engine is not None or is_out_of_core(reference) or is_out_of_core(current)
    if out_of_core:
        ref_src = as_source(reference, "reference", engine, scheduler, progress)
        try:
            cur_src = as_source(current, "current", ref_src.engine, scheduler, progress)
        except BaseException:
            ref_src.close()
            raise
        reference, current = ref_src, cur_src
        chosen = _ooc.check_columns(reference, current, columns, list(roles), segments)
    else:
        chosen = _check_columns(reference, current, columns, list(roles), segments)
    chosen = [c for c in chosen if c not in roles] + list(roles)
    if isinstance(method, str) and method != "auto" and method not in METHODS:
        raise MonitoringError(
            f"unknown method {method!r}: use 'auto' or one of {', '.join(METHODS)}"
        )
    for option_name, option in (("method", method), ("threshold", threshold)):
        if isinstance(option, dict):
            unknown = [c for c in option if c not in chosen]
            if unknown:
                raise MonitoringError(
                    f"{option_name} names columns that are not compared: "
                    + ", ".join(map(repr, unknown))
                )
    if (
        threshold is not None
        and not isinstance(threshold, dict)
        and (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not (threshold > 0)
        )
    ):
        raise MonitoringError(f"threshold must be a positive number, got {threshold!r}")
    cat_set = {str(c) for c in (categorical or [])}
    unknown_cat = [c for c in cat_set if c not in chosen]
    if unknown_cat:
        raise MonitoringError(f"categorical names columns that are not compared: {unknown_cat}")
    if out_of_core:
        try:
            columns_out = _ooc.drift_columns(
                reference, current, chosen, roles, method, threshold, cat_set, _per_column
            )
            shapes = [(s.num_rows, len(s.columns)) for s in (reference, current)]
        finally:
            reference.close()
            current.close()
        return _report(
            columns_out,
            shapes,
            True,
            {
                "method": method,
                "threshold": threshold,
                "correction": correction,
                "drift_share": drift_share,
                "segments": segments,
                "target": target,
                "prediction": prediction,
                "categorical": sorted(cat_set),
                "engine": reference.engine,
            },
            None,
            started,
        )
    reference = reference.rename(columns=str)
    current = current.rename(columns=str)

    cells = (len(reference) + len(current)) * len(chosen)
    show_progress = cells >= PROGRESS_CELLS if progress is None else bool(progress)

    def one(column: str) -> ColumnDrift:
        return column_drift(
            column,
            reference,
            current,
            roles.get(column, "feature"),
            _per_column(method, column, "auto"),
            _per_column(threshold, column, None),
            cat_set,
        )

    workers = min(4, os.cpu_count() or 1) if cells >= 1_000_000 else 1
    if workers > 1:
        # numpy sorts and pandas counting release the GIL: columns run side by side.
        with ThreadPoolExecutor(workers) as pool:
            results = _with_progress(pool.map(one, chosen), len(chosen), show_progress)
    else:
        results = _with_progress(map(one, chosen), len(chosen), show_progress)
    columns_out = list(results)

    _adjust(columns_out, correction)
    for col in columns_out:
        if col.drifted and segments:
            for segment in segments:
                if segment != col.column:
                    col.segments += segment_attribution(col, reference, current, segment)
            col.segments.sort(key=lambda s: -s["contribution"])
        col._bins = None

    performance = None
    if target is not None and prediction is not None:
        performance = performance_drift(reference, current, target, prediction)
    return _report(
        columns_out,
        [tuple(reference.shape), tuple(current.shape)],
        False,
        {
            "method": method,
            "threshold": threshold,
            "correction": correction,
            "drift_share": drift_share,
            "segments": segments,
            "target": target,
            "prediction": prediction,
            "categorical": sorted(cat_set),
        },
        performance,
        started,
    )


def _adjust(columns_out: list[ColumnDrift], correction: str | None) -> None:
    """Correct the p-values for multiple testing and decide those columns' verdicts."""
    pvalues = np.array([c.p_value if c.p_value is not None else np.nan for c in columns_out])
    adjusted = stats.adjust_pvalues(pvalues, correction)
    for col, adj in zip(columns_out, adjusted, strict=True):
        if col.method in P_VALUE_METHODS:
            col.p_adjusted = float(adj)
            col.drifted = bool(adj < col.threshold)


def _report(columns_out, shapes, adjust: bool, options, performance, started):
    from .report import DriftReport

    if adjust:  # the in-memory path adjusts before it ranks segments
        _adjust(columns_out, options["correction"])
    return DriftReport(
        columns=columns_out,
        reference_shape=tuple(shapes[0]),
        current_shape=tuple(shapes[1]),
        options=options,
        performance=performance,
        seconds=time.perf_counter() - started,
        created_at=time.time(),
    )


def _with_progress(iterable, total: int, show: bool):
    if not show:
        return list(iterable)
    from tqdm.auto import tqdm

    return list(tqdm(iterable, total=total, desc="drift", unit="column"))


__all__ = ["ColumnDrift", "column_drift", "drift_report", "segment_attribution"]
