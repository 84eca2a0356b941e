"""Filter and order-by strings over a runs DataFrame.

Filters are Python-like boolean expressions over the run table's columns::

    metrics.accuracy > 0.9 and params.C == 0.5
    status in ['FAILED', 'KILLED'] or not (tags.team == 'risk')
    `metrics.f1-macro` >= 0.8          # backticks quote names with other characters

``=`` is read as ``==`` and ``AND``/``OR``/``NOT`` as their lower-case forms, so MLflow-style
filters work too. Rows missing a value never match a comparison.

A quoted value compared with a ``params.*`` column is compared with the param's text as
MLflow would have stored it, ``str(value)`` (``0.5`` → ``'0.5'``, ``200`` → ``'200'``,
``True`` → ``'True'``), so ``params.C = '0.5'`` means what it means in MLflow; an unquoted
number compares the typed value (``params.C == 0.5``).
"""

from __future__ import annotations

import ast
import difflib
import keyword
import operator
import re

import numpy as np
import pandas as pd

from ..errors import InvalidFilter

_QUOTED = re.compile(r"('[^']*'|\"[^\"]*\"|`[^`]*`)")
_SINGLE_EQ = re.compile(r"(?<![=!<>])=(?!=)")
_SQL_WORDS = re.compile(r"(?<!\.)\b(AND|OR|NOT|IN)\b")
# A dotted column name such as params.lambda; not preceded by a digit or dot, so 0.5 is no name.
_DOTTED = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.\w+)+")
_ORDERING = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le}


def _prepare(text: str) -> tuple[str, dict[str, str]]:
    """Rewrite backtick names to placeholders and MLflow-isms to Python, outside strings."""
    names: dict[str, str] = {}
    out = []
    for part in _QUOTED.split(text):
        if part.startswith("`") and part.endswith("`") and len(part) >= 2:
            placeholder = f"__nbmlops_q{len(names)}__"
            names[placeholder] = part[1:-1]
            out.append(placeholder)
        elif part[:1] in ("'", '"'):
            out.append(part)
        else:
            part = _SINGLE_EQ.sub("==", part)
            part = _SQL_WORDS.sub(lambda m: m.group(1).lower(), part)
            out.append(_DOTTED.sub(lambda m: _quote_if_needed(m.group(0), names), part))
    return "".join(out), names


def _quote_if_needed(dotted: str, names: dict[str, str]) -> str:
    """Turn ``params.lambda`` (a keyword, not valid Python) into a placeholder name."""
    if all(s.isidentifier() and not keyword.iskeyword(s) for s in dotted.split(".")):
        return dotted
    placeholder = f"__nbmlops_q{len(names)}__"
    names[placeholder] = dotted
    return placeholder


class _Evaluator:
    def __init__(self, frame: pd.DataFrame, names: dict[str, str], text: str):
        self.frame = frame
        self.names = names
        self.text = text

    def fail(self, message: str) -> InvalidFilter:
        return InvalidFilter(f"cannot use filter {_shown(self.text)}: {message}")

    def column_name(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self.names.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.column_name(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    def column(self, name: str) -> pd.Series:
        if name in self.frame.columns:
            return self.frame[name]
        if self.frame.empty:
            return pd.Series([], dtype=object, index=self.frame.index)
        close = difflib.get_close_matches(name, list(self.frame.columns), n=3)
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else ("; columns look like metrics.<key>, params.<key>, tags.<key>, status, name")
        )
        raise self.fail(f"no run has a column {name!r}{hint}")

    def value(self, node: ast.AST):
        name = self.column_name(node)
        if name is not None:
            return self.column(name)
        try:
            return ast.literal_eval(node)
        except (ValueError, SyntaxError):
            raise self.fail(f"{ast.unparse(node)!r} is neither a column nor a constant") from None

    def truth(self, node: ast.AST) -> pd.Series:
        if isinstance(node, ast.BoolOp):
            parts = [self.truth(v) for v in node.values]
            combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
            result = parts[0]
            for part in parts[1:]:
                result = combine(result, part)
            return result
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ~self.truth(node.operand)
        if isinstance(node, ast.Compare):
            result = pd.Series(True, index=self.frame.index)
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                result &= self.compare(self.value(left), op, self.value(right))
                left = right
            return result
        raise self.fail(f"{ast.unparse(node)!r} is not a comparison (use ==, !=, <, >, in, …)")

    def compare(self, left, op: ast.cmpop, right) -> pd.Series:
        if not isinstance(left, pd.Series):
            if isinstance(right, pd.Series) and type(op) in _ORDERING:
                flipped = {
                    ast.Gt: ast.Lt(),
                    ast.GtE: ast.LtE(),
                    ast.Lt: ast.Gt(),
                    ast.LtE: ast.GtE(),
                }[type(op)]
                return self.compare(right, flipped, left)
            if isinstance(right, pd.Series) and isinstance(op, (ast.Eq, ast.NotEq)):
                return self.compare(right, op, left)
            raise self.fail("each comparison needs a column on one side")
        if isinstance(right, pd.Series):
            raise self.fail("compare a column with a constant, not with another column")
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, (list, tuple, set)):
                raise self.fail("'in' needs a list, e.g. status in ['FAILED', 'KILLED']")
            right = list(right)
        quoted = [r for r in (right if isinstance(right, list) else [right]) if isinstance(r, str)]
        kind = str(left.name).partition(".")[0]
        if quoted and kind == "metrics":
            raise self.fail(
                f"{left.name} is a number and {quoted[0]!r} is quoted text; "
                f"compare it with a number without quotes, e.g. {left.name} > 0.9"
            )
        if isinstance(op, (ast.In, ast.NotIn)):
            texts = {r for r in right if isinstance(r, str)} if kind == "params" else set()
            others = [_hashable(r) for r in right if not (kind == "params" and isinstance(r, str))]

            def member(x) -> bool:
                if texts and _logged(x) and str(x) in texts:
                    return True
                return _logged(x) and any(_same(_hashable(x), r) for r in others)

            hit = left.map(member).astype(bool)
            present = left.map(_logged).astype(bool) if texts else left.notna()
            return hit if isinstance(op, ast.In) else ~hit & present
        if kind == "params" and isinstance(right, str):
            left = _param_text(left)
        if pd.api.types.is_datetime64_any_dtype(left) and isinstance(right, str):
            try:
                right = (
                    pd.Timestamp(right, tz="UTC")
                    if pd.Timestamp(right).tzinfo is None
                    else pd.Timestamp(right)
                )
            except ValueError:
                raise self.fail(f"{right!r} is not a date") from None
        present = left.notna()
        if isinstance(op, (ast.Eq, ast.NotEq)):
            eq = left.map(lambda x: _equal(x, right)).astype(bool)
            return eq if isinstance(op, ast.Eq) else ~eq & present
        if type(op) in _ORDERING:
            compare = _ORDERING[type(op)]
            if isinstance(right, (int, float)) and not isinstance(right, bool):
                numbers = pd.to_numeric(left.map(_number), errors="coerce")
                return pd.Series(
                    np.asarray(compare(numbers, right).fillna(False), dtype=bool), index=left.index
                )
            return left.map(lambda x: _safe_order(compare, x, right)).astype(bool)
        raise self.fail(f"operator {type(op).__name__} is not supported")


def _hashable(x):
    return tuple(x) if isinstance(x, list) else x


def _logged(x) -> bool:
    """Whether a params cell holds a logged value (``None`` is one; NaN marks a missing one)."""
    return not (x is pd.NA or (isinstance(x, float) and np.isnan(x)))


def _param_text(column: pd.Series) -> pd.Series:
    """A params column as the text MLflow stores for each value (``str(value)``), NaN where
    the run has no such param; the meaning is written down in docs/tracking.md."""
    return pd.Series(
        [str(x) if _logged(x) else np.nan for x in column], index=column.index, dtype=object
    )


def _number(x):
    return x if isinstance(x, (int, float, np.number)) and not isinstance(x, bool) else np.nan


def _equal(x, right) -> bool:
    if x is None or (isinstance(x, float) and np.isnan(x)):
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


def _parse(text: str) -> tuple[ast.Expression, dict[str, str]]:
    """The parsed filter and its backtick placeholders, or ``InvalidFilter``."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidFilter(f"a filter is a non-empty string, got {text!r}")
    source, names = _prepare(text.strip())
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise InvalidFilter(
            f"cannot parse filter {_shown(text)} ({exc.msg}); write e.g. "
            '"metrics.accuracy > 0.9 and params.C == 0.5"'
        ) from None
    except (RecursionError, MemoryError):
        raise _too_nested(text) from None
    except UnicodeEncodeError:
        raise InvalidFilter(f"cannot use filter {_shown(text)}: not valid Unicode") from None
    return tree, names


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 200 else repr(text[:200]) + f"… ({len(text)} characters)"


def _too_nested(text: str) -> InvalidFilter:
    return InvalidFilter(
        f"cannot use filter {_shown(text)}: it nests too deeply for Python to parse; "
        "write it with fewer nested not/parentheses"
    )


def apply_filter(frame: pd.DataFrame, text: str) -> pd.DataFrame:
    """Rows of ``frame`` for which the filter ``text`` holds."""
    tree, names = _parse(text)
    try:
        mask = _Evaluator(frame, names, text).truth(tree.body)
    except RecursionError:
        raise _too_nested(text) from None
    return frame[mask.to_numpy(dtype=bool)]


def filter_columns(text: str) -> set[str]:
    """The column names a filter reads (``InvalidFilter`` if it does not parse)."""
    tree, names = _parse(text)
    reader = _Evaluator(pd.DataFrame(), names, text)
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        name = reader.column_name(node)
        if name is not None and isinstance(node, (ast.Name, ast.Attribute)):
            found.add(name)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    try:
        visit(tree.body)
    except RecursionError:
        raise _too_nested(text) from None
    return found


def order_terms(order_by: str | list[str]) -> list[tuple[str, bool]]:
    """``"metrics.accuracy DESC, start_time"`` as ``[("metrics.accuracy", True), …]``."""
    terms = [order_by] if isinstance(order_by, str) else list(order_by)
    out = []
    for term in (t.strip() for group in terms for t in str(group).split(",")):
        if not term:
            continue
        parts = term.rsplit(None, 1)
        direction = (
            parts[1].upper() if len(parts) == 2 and parts[1].upper() in ("ASC", "DESC") else None
        )
        out.append(((parts[0] if direction else term).strip("`"), direction == "DESC"))
    return out


def apply_order(frame: pd.DataFrame, order_by: str | list[str]) -> pd.DataFrame:
    """Sort by ``"metrics.accuracy DESC, start_time"`` (or a list of such terms)."""
    columns, ascending = [], []
    for name, descending in order_terms(order_by):
        if name not in frame.columns:
            if frame.empty:
                continue
            close = difflib.get_close_matches(name, list(frame.columns), n=3)
            raise InvalidFilter(
                f"cannot order by {name!r}: no such column"
                + (f"; did you mean {', '.join(close)}?" if close else "")
            )
        columns.append(name)
        ascending.append(not descending)
    if not columns:
        return frame

    def key(col: pd.Series) -> pd.Series:
        if col.dtype == object:
            numeric = pd.to_numeric(col.map(_number), errors="coerce")
            return numeric if numeric.notna().any() else col.astype(str)
        return col

    return frame.sort_values(
        columns, ascending=ascending, key=key, na_position="last", kind="stable"
    )
