"""Filter and order-by strings evaluated over a runs DataFrame.

The language (nbmlops' Python-like filters and MLflow's search syntax) is parsed by
:mod:`._grammar`; this module gives the tree its meaning over the columns of ``runs()``:

- Rows missing a value never match a comparison (``!=`` and ``NOT IN`` included), as in MLflow.
- A quoted value compared with a ``params.*`` column is compared with the param's text as
  MLflow stores it, ``str(value)`` (``0.5`` → ``'0.5'``, ``True`` → ``'True'``); an unquoted
  number compares the typed value (``params.C == 0.5``).
- ``start_time`` / ``created`` / ``end_time`` compared with a number are milliseconds since the
  epoch (MLflow's unit); compared with quoted text, a date (``start_time > '2024-05-01'``).
- ``LIKE`` is case-sensitive, ``ILIKE`` not; ``%`` is any text and ``_`` one character.
- ``IS NULL`` holds where the run has no such value; ``IS NOT NULL`` where it has one.
"""

from __future__ import annotations

import difflib
import operator
import re

import numpy as np
import pandas as pd

from ..errors import InvalidFilter
from ._grammar import (
    And,
    Column,
    Comparison,
    Everything,
    Node,
    Not,
    Or,
    columns_of,
    parse_filter,
    parse_order_by,
    shown,
    too_nested,
)

_ORDERING = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_TIMES = {"start_time", "end_time"}
DERIVED = {"end_time"}  # attributes computed from the runs table's columns
# The column query.py adds when a filter reads datasets.*: per run, a tuple of its inputs'
# (name, digest, context); a comparison holds when any of them satisfies it (MLflow).
DATASETS = "datasets"
_DATASET_FIELD = {"name": 0, "digest": 1, "context": 2}


class _Evaluator:
    def __init__(self, frame: pd.DataFrame, text: str):
        self.frame = frame
        self.text = text

    def fail(self, message: str) -> InvalidFilter:
        return InvalidFilter(f"cannot use filter {shown(self.text)}: {message}")

    def column(self, column: Column) -> pd.Series:
        name = column.name
        if name in self.frame.columns:
            return self.frame[name].rename(name)
        if name == "end_time" and {"start_time", "duration_s"} <= set(self.frame.columns):
            ended = self.frame["status"] != "RUNNING"
            end = self.frame["start_time"] + pd.to_timedelta(self.frame["duration_s"], unit="s")
            return end.where(ended).rename(name)
        if self.frame.empty:
            return pd.Series([], dtype=object, index=self.frame.index, name=name)
        close = close_keys(name, self.frame.columns)
        if column.kind != "attribute" and not close:
            # MLflow's meaning: a key no run has is missing everywhere, so nothing matches.
            return pd.Series(np.nan, index=self.frame.index, dtype=object, name=name)
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else "; columns look like metrics.<key>, params.<key>, tags.<key>, status, run_name"
        )
        raise self.fail(f"no run has a column {column.text!r}{hint}")

    def truth(self, node: Node) -> pd.Series:
        if isinstance(node, Everything):
            return pd.Series(True, index=self.frame.index)
        if isinstance(node, (And, Or)):
            combine = operator.and_ if isinstance(node, And) else operator.or_
            result = self.truth(node.items[0])
            for item in node.items[1:]:
                result = combine(result, self.truth(item))
            return result
        if isinstance(node, Not):
            return ~self.truth(node.item)
        return self.compare(node)

    def compare(self, node: Comparison) -> pd.Series:
        op, right, column = node.op, node.value, node.column
        if column.kind == DATASETS:
            return self.datasets(node)
        if node.op in ("IS NULL", "IS NOT NULL"):
            if column.name not in self.frame.columns and column.kind != "attribute":
                present = pd.Series(False, index=self.frame.index)  # no run has it: all NULL
            else:
                left = self.column(column)
                present = left.map(_logged).astype(bool)
            return ~present if op == "IS NULL" else present
        left = self.column(column)
        kind = column.kind
        values = list(right) if isinstance(right, tuple) else [right]
        quoted = [v for v in values if isinstance(v, str)]
        if quoted and kind == "metrics":
            raise self.fail(
                f"{column.text} is a number and {quoted[0]!r} is quoted text; "
                f"compare it with a number without quotes, e.g. {column.text} > 0.9"
            )
        if op.endswith("LIKE"):
            return self.like(left, op, right, kind)
        if column.name in _TIMES:
            left, right = self.times(left, right)
        if op in ("IN", "NOT IN"):
            texts = {r for r in right if isinstance(r, str)} if kind == "params" else set()
            others = [_hashable(r) for r in right if not (kind == "params" and isinstance(r, str))]

            def member(x) -> bool:
                if texts and _logged(x) and str(x) in texts:
                    return True
                return _logged(x) and any(_same(_hashable(x), r) for r in others)

            hit = left.map(member).astype(bool)
            present = left.map(_logged).astype(bool)
            return hit if op == "IN" else ~hit & present
        if kind == "params" and isinstance(right, str):
            left = _param_text(left)
        present = left.map(_logged).astype(bool)
        if op in ("=", "!="):
            eq = left.map(lambda x: _equal(x, right)).astype(bool)
            return eq if op == "=" else ~eq & present
        compare = _ORDERING[op]
        if isinstance(right, (int, float)) and not isinstance(right, bool):
            numbers = pd.to_numeric(left.map(_number), errors="coerce")
            return pd.Series(
                np.asarray(compare(numbers, right).fillna(False), dtype=bool), index=left.index
            )
        return left.map(lambda x: _safe_order(compare, x, right)).astype(bool)

    def datasets(self, node: Comparison) -> pd.Series:
        """Whether any input of each run satisfies the comparison (inputs without the field,
        such as a context, never do), as MLflow's dataset filters."""
        field = _DATASET_FIELD[node.column.key]
        op, right = node.op, node.value
        if op.endswith("LIKE"):
            regex = re.compile(_like_regex(right), re.S | (re.I if "ILIKE" in op else 0))
            test = (
                (lambda x: regex.fullmatch(x) is None)
                if op.startswith("NOT")
                else (lambda x: regex.fullmatch(x) is not None)
            )
        elif op in ("IN", "NOT IN"):
            members = set(right)
            test = (lambda x: x in members) if op == "IN" else (lambda x: x not in members)
        else:
            test = (lambda x: x == right) if op == "=" else (lambda x: x != right)
        inputs = (
            self.frame[DATASETS]
            if DATASETS in self.frame.columns
            else pd.Series([()] * len(self.frame), index=self.frame.index, dtype=object)
        )
        return inputs.map(
            lambda rows: any(r[field] is not None and test(r[field]) for r in rows)
        ).astype(bool)

    def like(self, left: pd.Series, op: str, pattern: str, kind: str) -> pd.Series:
        if kind == "metrics" or left.name in _TIMES or left.name == "duration_s":
            raise self.fail(
                f"{op} matches text, and {left.name} is a number; compare it with =, <, >, e.g. "
                f"{left.name} > 0.9"
            )
        flags = re.S | (re.I if "ILIKE" in op else 0)
        regex = re.compile(_like_regex(pattern), flags)
        text = _param_text(left) if kind == "params" else left
        hit = text.map(lambda x: isinstance(x, str) and regex.fullmatch(x) is not None)
        hit = hit.astype(bool)
        if op.startswith("NOT"):
            return ~hit & text.map(_logged).astype(bool)
        return hit

    def times(self, left: pd.Series, right):
        """Times against numbers are epoch milliseconds (MLflow); against text, dates."""
        items = list(right) if isinstance(right, (list, tuple)) else [right]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
            millis = left.map(lambda t: t.value / 1e6 if _logged(t) else np.nan)
            return millis.astype(float).rename(left.name), right
        if all(isinstance(v, str) for v in items):
            stamps = []
            for v in items:
                try:
                    stamp = pd.Timestamp(v)
                except ValueError:
                    raise self.fail(
                        f"{v!r} is not a date; write e.g. {left.name} > '2024-05-01' or "
                        f"{left.name} > 1714521600000 (milliseconds)"
                    ) from None
                stamps.append(stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp)
            return left, (tuple(stamps) if isinstance(right, tuple) else stamps[0])
        raise self.fail(
            f"compare {left.name} with a date in quotes or with milliseconds since the epoch"
        )


def close_keys(name: str, columns) -> list[str]:
    """Columns of the same kind whose key is close to ``name``'s: a likely typo.

    A key no run has matches nothing, as in MLflow (``metrics.rmse > 1`` in an experiment
    without rmse is empty), but one close to a key the runs have (``metrics.acuracy``) stops
    with the key it probably means."""
    kind, dot, key = name.partition(".")
    if not dot or kind not in ("metrics", "params", "tags"):
        return difflib.get_close_matches(name, [str(c) for c in columns], n=3)
    keys = [str(c)[len(kind) + 1 :] for c in columns if str(c).startswith(kind + ".")]
    return [f"{kind}.{k}" for k in difflib.get_close_matches(key, keys, n=3)]


def _like_regex(pattern: str) -> str:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return "".join(out)


def _hashable(x):
    return tuple(x) if isinstance(x, list) else x


def _logged(x) -> bool:
    """Whether a cell holds a value (a logged ``None`` param is one; NaN/NaT mark none)."""
    if x is pd.NA or x is pd.NaT:
        return False
    return not (isinstance(x, float) and np.isnan(x))


def _param_text(column: pd.Series) -> pd.Series:
    """A params column as the text MLflow stores for each value (``str(value)``), NaN where
    the run has no such param; the meaning is written down in docs/tracking.md."""
    return pd.Series(
        [str(x) if _logged(x) else np.nan for x in column],
        index=column.index,
        dtype=object,
        name=column.name,
    )


def _number(x):
    return x if isinstance(x, (int, float, np.number)) and not isinstance(x, bool) else np.nan


def _equal(x, right) -> bool:
    if not _logged(x) or x is None and right is not None:
        return False
    try:
        return bool(x == right)
    except (TypeError, ValueError):
        return False


def _same(x, right) -> bool:
    try:
        return bool(x == right)
    except (TypeError, ValueError):
        return False


def _safe_order(compare, x, right) -> bool:
    try:
        return bool(compare(x, right))
    except TypeError:
        return False


def apply_filter(frame: pd.DataFrame, text: str | None) -> pd.DataFrame:
    """Rows of ``frame`` for which the filter ``text`` holds (``""``: every row)."""
    tree = parse_filter(text)
    try:
        mask = _Evaluator(frame, text or "").truth(tree)
    except RecursionError:
        raise too_nested(text) from None
    return frame[mask.to_numpy(dtype=bool)]


def filter_columns(text: str | None) -> set[str]:
    """The runs-table columns a filter reads (``InvalidFilter`` if it does not parse)."""
    found = {c.name for c in columns_of(parse_filter(text))}
    if "end_time" in found:
        found |= {"start_time", "duration_s", "status"}
    return found


def null_tests(text: str | None) -> set[str]:
    """Columns a filter only tests with IS [NOT] NULL: no run having them is no error."""
    tree = parse_filter(text)
    tested, compared = set(), set()
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, Comparison):
            (tested if item.op.startswith("IS") else compared).add(item.column.name)
        elif isinstance(item, (And, Or)):
            stack.extend(item.items)
        elif isinstance(item, Not):
            stack.append(item.item)
    return tested - compared


def order_terms(order_by: str | list[str]) -> list[tuple[str, bool]]:
    """``"metrics.accuracy DESC, start_time"`` as ``[("metrics.accuracy", True), …]``."""
    return [(term.column.name, term.descending) for term in parse_order_by(order_by)]


def newest_first(frame: pd.DataFrame) -> pd.DataFrame:
    """MLflow's order when nothing else decides: newest start first, then run id."""
    if frame.empty or "start_time" not in frame.columns:
        return frame
    by_id = frame.sort_values("run_id", kind="stable") if "run_id" in frame.columns else frame
    return by_id.sort_values("start_time", ascending=False, kind="stable")


def apply_order(frame: pd.DataFrame, order_by: str | list[str]) -> pd.DataFrame:
    """Sort by ``"metrics.accuracy DESC, start_time"`` (or a list of such terms).

    A column no run has orders nothing (as in MLflow); missing values sort last either way;
    ties fall back to newest first.
    """
    columns, ascending = [], []
    logged_nan = dict(frame.attrs.get("logged_nan", {}))
    frame = newest_first(frame)
    for name, descending in order_terms(order_by):
        if name == "end_time" and name not in frame.columns and not frame.empty:
            frame = frame.assign(
                end_time=_Evaluator(frame, "").column(Column("attribute", "end_time", name))
            )
        if name not in frame.columns:
            continue
        columns.append(name)
        ascending.append(not descending)
    if not columns:
        return frame
    keys = {}
    for i, (name, up) in enumerate(zip(columns, ascending, strict=True)):
        if logged_nan.get(name):
            keys[f"__order_{i}"] = _nan_last_but_one(frame, name, logged_nan[name], up)
            columns[i] = f"__order_{i}"
    if keys:
        ordered = frame.assign(**keys).sort_values(
            columns, ascending=ascending, key=_order_key, na_position="last", kind="stable"
        )
        return ordered.drop(columns=list(keys))
    return frame.sort_values(
        columns, ascending=ascending, key=_order_key, na_position="last", kind="stable"
    )


def _order_key(col: pd.Series) -> pd.Series:
    if col.dtype == object:
        numeric = pd.to_numeric(col.map(_number), errors="coerce")
        return numeric if numeric.notna().any() else col.map(lambda x: str(x) if _logged(x) else x)
    return col


def _nan_last_but_one(frame: pd.DataFrame, name: str, nan_runs, ascending: bool) -> pd.Series:
    """A metric's sort key where a logged NaN comes after every number and before the runs
    without the metric, in either direction (MLflow's order): the numbers' dense ranks, the
    NaN cells one past the end of the direction, missing values NaN."""
    values = frame[name].astype(float)
    rank = values.rank(method="dense")
    logged = frame["run_id"].isin(set(nan_runs)) & values.isna()
    past_end = (rank.max() if rank.notna().any() else 0) + 1 if ascending else 0
    return rank.mask(logged, past_end)
