"""Run queries compiled to SQL: the filter tree of :mod:`._grammar`, the order, offset and limit
run in the database (SQLite or PostgreSQL) and return one page of run ids.

The meaning is that of the pandas evaluator in :mod:`._filter`, which stays the reference (a
hypothesis test compares both on random runs and filters). Every comparison compiles to an
expression that is never NULL, so ``NOT`` means what it means in pandas. Param values are the
JSON text ``json.dumps`` wrote; their text (``str(value)`` in Python) and their number are
derived in SQL from that text.

A query the compiler cannot give the pandas meaning raises :class:`Fallback`, and the caller
evaluates that query in pandas: a param of the selection holding a list or a dict, an integer
constant of 2**53 or more, ``ILIKE`` with a non-ASCII pattern on PostgreSQL, and every query
that ends in an error (an unknown column, a bad date, ``LIKE`` on a number), so that its
message stays the evaluator's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from contextlib import contextmanager

from sqlalchemy import (
    Float,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)

from ..errors import StoreError
from ..store import Store
from ..store import _schema as t
from ..store._engine import read_transaction
from ._grammar import (
    And,
    Column,
    Comparison,
    Everything,
    Node,
    Not,
    Or,
    parse_filter,
    parse_order_by,
)

_TEXT_ATTRIBUTES = {"run_id", "name", "status", "experiment"}
_BIG = 2**53  # integers from here on are not exact as doubles: pandas compares them exactly
_TABLES = {"metrics": t.latest_metrics, "params": t.params, "tags": t.tags}
_NUMERIC_START = ("-", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
INF = float("inf")


def _head(value):
    """The first character of a param's JSON: its kind. Written as the index ix_params_key_head
    is (literal arguments), so the database can use it."""
    return func.substr(value, literal_column("1"), literal_column("1"))


def _raw_forms(text: str) -> list[str]:
    """Every JSON text (as nbmlops writes params: ``json.dumps(ensure_ascii=False)``) of a
    scalar whose Python text is ``text``: ``str(value) == text`` is ``raw IN forms``, an
    equality the database can estimate from its statistics (and lists/dicts fall back)."""
    import json

    forms = [json.dumps(text, ensure_ascii=False)]
    forms += {"True": ["true"], "False": ["false"], "None": ["null"]}.get(text, [])
    forms += {"inf": ["Infinity"], "-inf": ["-Infinity"]}.get(text, [])
    for kind in (int, float):
        try:
            number = kind(text)
        except ValueError:
            continue
        if math.isfinite(number) and json.dumps(number) == text:
            forms.append(text)
    return sorted(set(forms))


class Fallback(Exception):
    """This query needs the pandas evaluator (see the module docstring for when)."""


@contextmanager
def _text_of_nul_falls_back():
    """PostgreSQL has no text holding U+0000: reading a param that holds it as text fails
    (SQLSTATE 22P05) and the query goes to the pandas evaluator, which reads the JSON."""
    try:
        yield
    except StoreError as exc:
        if getattr(getattr(exc.__cause__, "orig", None), "sqlstate", None) == "22P05":
            raise Fallback("a param holds U+0000, which PostgreSQL cannot give as text") from None
        raise


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_constant(value) -> None:
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if isinstance(v, (list, tuple)):
            _check_constant(v)
        elif isinstance(v, int) and not isinstance(v, bool) and abs(v) >= _BIG:
            raise Fallback("an integer constant beyond 2**53")
        elif isinstance(v, float) and math.isfinite(v) and abs(v) >= _BIG:
            raise Fallback("a float constant beyond 2**53")


class _Compiler:
    """Compiles one filter tree and one order over the runs of a selection."""

    def __init__(self, dialect: str, known: set[str], now: float):
        self.pg = dialect == "postgresql"
        self.known = known
        self.now = now
        self.joins: dict[str, object] = {}  # column name -> aliased table, LEFT JOINed
        self.ordered: set[str] = set()  # columns of the order: always joined
        self.params_read: set[str] = set()

    # -- the values of one column --------------------------------------------------------------

    def text(self, expr):
        """Text compared and sorted by code point, as Python does (PostgreSQL: collation C)."""
        return expr.collate("C") if self.pg else expr

    def alias(self, column: Column):
        if column.kind == "params":
            self.params_read.add(column.key)
        if not self.pg and column.name not in self.ordered:
            # SQLite: a value only the filter reads is looked up per run (primary key), so the
            # planner walks the order's index and stops after a page instead of starting from
            # a filter's range (it has no statistics to tell which is cheaper).
            table = _TABLES[column.kind]
            return (
                select(table.c.value)
                .where(table.c.run_id == t.runs.c.run_id, table.c.key == column.key)
                .scalar_subquery()
            )
        if column.name not in self.joins:
            self.joins[column.name] = _TABLES[column.kind].alias(f"j{len(self.joins)}")
        return self.joins[column.name].c.value

    def attribute(self, key: str):
        r = t.runs.c
        if key == "experiment":
            return t.experiments.c.name
        if key == "duration_s":
            return func.coalesce(r.end_time, self.now) - r.start_time
        if key == "end_time":
            ended = r.status != "RUNNING"
            return case((ended, func.coalesce(r.end_time, self.now)), else_=None)
        return r[key]

    def json_text(self, raw):
        if self.pg:
            from sqlalchemy.dialects.postgresql import JSON

            return cast(raw, JSON).op("#>>", return_type=Text)(literal_column("'{}'"))
        return func.json_extract(raw, "$")

    def param_text(self, raw):
        """``str(value)`` of a logged param (NULL where the run has none, or NaN)."""
        return case(
            (raw == "true", "True"),
            (raw == "false", "False"),
            (raw == "null", "None"),
            (raw == "Infinity", "inf"),
            (raw == "-Infinity", "-inf"),
            (func.substr(raw, 1, 1) == '"', self.json_text(raw)),
            (raw == "NaN", None),
            else_=raw,  # ints and floats: json.dumps wrote str(value)
        )

    def param_number(self, raw):
        """The param as a number when it is an int or float (not a bool), else NULL."""
        return case(
            (raw == "-Infinity", literal(-INF, Float)),
            (raw == "Infinity", literal(INF, Float)),
            (func.substr(raw, 1, 1).in_(_NUMERIC_START), cast(raw, Float)),
            else_=None,
        )

    def param_numbool(self, raw):
        """As :meth:`param_number`, with True/False as 1/0 (Python's ``1 == True``)."""
        return case((raw == "true", 1.0), (raw == "false", 0.0), else_=self.param_number(raw))

    @staticmethod
    def param_present(raw):
        return and_(raw.isnot(None), raw != "NaN")

    # -- the filter ----------------------------------------------------------------------------

    def truth(self, node: Node):
        if isinstance(node, Everything):
            return true()
        if isinstance(node, And):
            return and_(*(self.truth(item) for item in node.items))
        if isinstance(node, Or):
            return or_(*(self.truth(item) for item in node.items))
        if isinstance(node, Not):
            return not_(self.truth(node.item))
        return self.compare(node)

    def compare(self, node: Comparison):
        column, op, value = node.column, node.op, node.value
        _check_constant(value)
        name = column.name
        known = name in self.known or name == "end_time"
        if op in ("IS NULL", "IS NOT NULL"):
            if not known:
                if column.kind == "attribute":
                    raise Fallback("an unknown attribute")  # the evaluator's error
                present = false()  # no run has the column: every value is missing
            else:
                present = self.present(column)
            return not_(present) if op == "IS NULL" else present
        if not known:
            raise Fallback("an unknown column")
        if column.kind == "params":
            return self.compare_param(column, op, value)
        if column.kind == "metrics" or name == "duration_s":
            if op.endswith("LIKE"):
                raise Fallback("LIKE on a number")
            return self.compare_number(self.value(column), op, value)
        if name in ("start_time", "end_time"):
            return self.compare_time(column, op, value)
        return self.compare_text(self.value(column), op, value)  # tags, text attributes

    def value(self, column: Column):
        return self.attribute(column.key) if column.kind == "attribute" else self.alias(column)

    def present(self, column: Column):
        if column.kind == "params":
            return self.param_present(self.alias(column))
        return self.value(column).isnot(None)

    def compare_number(self, v, op: str, value):
        """A float column (NULL: missing) against constants, with Python's meaning: bools are
        1/0, text, None and lists equal nothing and order nothing."""
        present = v.isnot(None)
        if op in ("IN", "NOT IN"):
            members = [float(x) for x in value if _is_number(x) or isinstance(x, bool)]
            hit = and_(present, v.in_(members)) if members else false()
            return hit if op == "IN" else and_(present, not_(hit))
        if not (_is_number(value) or isinstance(value, bool)):
            return present if op == "!=" else false()
        number = float(value)
        if op == "=":
            return and_(present, v == number)
        if op == "!=":
            return and_(present, v != number)
        return and_(present, v.op(op)(number))

    def compare_text(self, v, op: str, value):
        """A text column (tags, run_id, name, status, experiment) against constants."""
        present = v.isnot(None)
        if op.endswith("LIKE"):
            hit = and_(present, self.like(v, op, value))
            return and_(present, not_(hit)) if op.startswith("NOT") else hit
        if op in ("IN", "NOT IN"):
            members = [x for x in value if isinstance(x, str)]
            hit = and_(present, v.in_(members)) if members else false()
            return hit if op == "IN" else and_(present, not_(hit))
        if not isinstance(value, str):
            return present if op == "!=" else false()
        if op in ("=", "!="):
            return and_(present, v == value if op == "=" else v != value)
        return and_(present, self.text(v).op(op)(value))

    def like(self, v, op: str, pattern: str):
        insensitive = "ILIKE" in op
        if self.pg:
            if insensitive and not pattern.isascii():
                raise Fallback("ILIKE with a non-ASCII pattern on PostgreSQL")
            escaped = pattern.replace("\\", "\\\\")
            return v.ilike(escaped) if insensitive else self.text(v).like(escaped)
        # SQLite: Python's own re (SQLAlchemy registers REGEXP), so case folding is Python's.
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        flags = "(?si)" if insensitive else "(?s)"
        return v.regexp_match(f"{flags}^(?:{regex})\\Z")

    def compare_time(self, column: Column, op: str, value):
        """start_time / end_time: numbers are epoch milliseconds, quoted text a date."""
        if op.endswith("LIKE"):
            raise Fallback("LIKE on a time")
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        seconds = self.attribute(column.key)
        if all(_is_number(x) for x in items):
            return self.compare_number(seconds * 1000.0, op, value)
        if all(isinstance(x, str) for x in items):
            import pandas as pd

            stamps = []
            for x in items:
                try:
                    stamp = pd.Timestamp(x)
                except ValueError:
                    raise Fallback("not a date") from None
                if stamp is pd.NaT:  # 'nan', 'NaT': equal to and ordered with no time
                    continue
                stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
                stamps.append(stamp.value / 1e9)
            if isinstance(value, list) and op in ("=", "!="):  # a list equals no time
                return seconds.isnot(None) if op == "!=" else false()
            if not stamps:  # as the evaluator: only a present time differs from NaT
                return seconds.isnot(None) if op in ("!=", "NOT IN") else false()
            return self.compare_number(
                seconds, op, tuple(stamps) if op.endswith("IN") else stamps[0]
            )
        raise Fallback("a time compared with neither numbers nor dates")

    def compare_param(self, column: Column, op: str, value):
        raw = self.alias(column)
        present = self.param_present(raw)
        if op.endswith("LIKE"):
            hit = and_(present, self.like(self.param_text(raw), op, value))
            return and_(present, not_(hit)) if op.startswith("NOT") else hit
        if op in ("IN", "NOT IN"):
            texts = [x for x in value if isinstance(x, str)]
            numbers = [float(x) for x in value if _is_number(x) or isinstance(x, bool)]
            hits = []
            if texts:
                hits.append(raw.in_(sorted({f for x in texts for f in _raw_forms(x)})))
            if numbers:
                numbool = self.param_numbool(raw)
                hits.append(and_(numbool.isnot(None), numbool.in_(numbers)))
            if any(x is None for x in value):
                hits.append(raw == "null")
            hit = and_(present, or_(*hits)) if hits else false()
            return hit if op == "IN" else and_(present, not_(hit))
        if isinstance(value, str):  # quoted: the param's text, as MLflow stores it
            if op in ("=", "!="):
                # Both on the stored JSON text: the database's JSON-to-text of a string with
                # a NUL in it is cut short (SQLite) or refused (PostgreSQL).
                # ``present`` first: a run without the param compares false, not NULL, so
                # ``not (params.p = 'a')`` keeps it (as the evaluator does).
                hit = and_(present, raw.in_(_raw_forms(value)))
                return hit if op == "=" else and_(present, not_(hit))
            return and_(present, self.text(self.param_text(raw)).op(op)(value))
        if value is None:
            if op == "=":
                return and_(present, raw == "null")
            return and_(present, raw != "null") if op == "!=" else false()
        if isinstance(value, (list, tuple)):  # lists of the selection's params are a fallback
            return present if op == "!=" else false()
        number = float(value)
        numbool = self.param_numbool(raw)
        if op == "=":
            return and_(present, numbool.isnot(None), numbool == number)
        if op == "!=":
            return and_(present, or_(numbool.is_(None), numbool != number))
        # Python orders an int/float/bool against a bool; against a number, bools are no
        # numbers (pandas' to_numeric leaves them out).
        v = numbool if isinstance(value, bool) else self.param_number(raw)
        return and_(v.isnot(None), v.op(op)(number))


def _froms(compiler: _Compiler, inner: str | None = None):
    """runs JOIN experiments, then each column's table LEFT JOINed (``inner``: INNER)."""
    froms = t.runs.join(t.experiments, t.experiments.c.experiment_id == t.runs.c.experiment_id)
    for name, table in compiler.joins.items():
        key = name.partition(".")[2]
        on = and_(table.c.run_id == t.runs.c.run_id, table.c.key == key)
        froms = froms.join(table, on) if name == inner else froms.outerjoin(table, on)
    return froms


class RunQuery:
    """One compiled selection: ``page(offset, limit)`` run ids and ``count()``."""

    def __init__(
        self,
        store: Store,
        experiment: str | None,
        known: Sequence[str],
        filter: str | None,  # noqa: A002 - same name as runs()
        order_by: str | list[str] | None,
        now: float,
    ):
        self.engine = store.meta.engine
        self.experiment = experiment
        compiler = _Compiler(self.engine.dialect.name, set(known), now)
        self.compiler = compiler
        tree = parse_filter(filter)
        self.terms = []  # (column, descending) as the order reads them
        for term in parse_order_by(order_by) if order_by else []:
            name = term.column.name
            if name in compiler.known or name == "end_time":  # an unknown key orders nothing
                self.terms.append((term.column, term.descending))
                compiler.ordered.add(name)
        try:
            self.where = compiler.truth(tree)
        except RecursionError:
            raise Fallback("too deeply nested") from None
        with read_transaction(self.engine) as conn:
            self._check_params(conn)
            self.order = [self._order_expr(conn, c, d) for c, d in self.terms]

    def _selection(self, query):
        """``query`` (over params JOIN runs) kept to the runs of the experiment."""
        if self.experiment is None:
            return query
        return query.join(
            t.experiments, t.experiments.c.experiment_id == t.runs.c.experiment_id
        ).where(t.experiments.c.name == self.experiment)

    def _select(self, inner: str | None = None):
        query = select(t.runs.c.run_id).select_from(_froms(self.compiler, inner))
        if self.experiment is not None:
            query = query.where(t.experiments.c.name == self.experiment)
        return query.where(self.where)

    def _check_params(self, conn) -> None:
        """Lists and dicts have a Python text SQL does not derive: such selections fall back.
        The index on (key, first character) finds them without reading the other values."""
        keys = sorted(
            self.compiler.params_read | {c.key for c, _ in self.terms if c.kind == "params"}
        )
        if not keys:
            return
        p = t.params.c
        nested = _head(p.value).in_(["[", "{"])
        query = self._selection(
            select(literal(1)).select_from(t.params.join(t.runs, t.runs.c.run_id == p.run_id))
        ).where(p.key.in_(keys), nested)
        if conn.execute(query.limit(1)).first() is not None:
            raise Fallback("a param holds a list or dict")

    def _order_expr(self, conn, column: Column, descending: bool):
        c = self.compiler
        if column.kind == "params":
            raw = c.alias(column)
            # pandas sorts a params column by number when any run of the selection has one.
            p = t.params.c
            numeric = or_(_head(p.value).in_(_NUMERIC_START), p.value == "Infinity")
            query = self._selection(
                select(literal(1)).select_from(t.params.join(t.runs, t.runs.c.run_id == p.run_id))
            ).where(p.key == column.key, numeric)
            if conn.execute(query.limit(1)).first() is not None:
                expr = c.param_number(raw)
            else:
                expr = c.text(c.param_text(raw))
        elif column.kind in ("metrics", "tags"):
            expr = c.alias(column)
            expr = c.text(expr) if column.kind == "tags" else expr
        else:
            expr = c.attribute(column.key)
            expr = c.text(expr) if column.key in _TEXT_ATTRIBUTES else expr
        return expr

    def _query(self, offset: int, limit: int, split: str | None = None):
        """The page query; ``split`` = "values"/"rest" pages the runs that have / lack the
        first order term's metric, so an index on (key, value) serves the first."""
        inner = self.terms[0][0].name if split == "values" else None
        query = self._select(inner)
        terms = []
        for i, ((column, descending), expr) in enumerate(zip(self.terms, self.order, strict=True)):
            # A metric logged as NaN (a row with a NULL value) sorts after the numbers and
            # before the runs without the metric, either way, as in MLflow.
            logged_nan = (
                [self.compiler.joins[column.name].c.run_id.is_(None).asc()]
                if column.kind == "metrics" and column.name in self.compiler.joins
                else []
            )
            if i == 0 and split is not None:
                if split == "values":
                    query = query.where(expr.isnot(None))
                    terms.append(expr.desc() if descending else expr.asc())
                else:
                    query = query.where(expr.is_(None))
                    terms += logged_nan
                continue
            terms.append((expr.desc() if descending else expr.asc()).nulls_last())
            terms += logged_nan
        terms += [t.runs.c.start_time.desc(), self.compiler.text(t.runs.c.run_id).asc()]
        return query.order_by(*terms).offset(offset).limit(limit)

    def _tune(self, conn, page: bool) -> None:
        """PostgreSQL: no JIT compilation for a query that reads a page (it costs 100 ms and
        more when row estimates are high); and for a page, prefer walking an index in the
        order's order over sorting every match: its estimates of how many runs a filter
        keeps are often far too low, and the sort then reads every match (SQLite gets the
        same plan from per-run lookups, see :meth:`_Compiler.alias`)."""
        if self.compiler.pg:
            conn.exec_driver_sql("SET LOCAL jit = off")
            if page:
                conn.exec_driver_sql("SET LOCAL enable_sort = off")

    def page(self, offset: int, limit: int) -> list[str]:
        with _text_of_nul_falls_back(), read_transaction(self.engine) as conn:
            self._tune(conn, page=True)
            if not (self.terms and self.terms[0][0].kind == "metrics"):
                return list(conn.execute(self._query(offset, limit)).scalars())
            # Runs with the metric first (in index order), then those without it.
            ids = list(conn.execute(self._query(offset, limit, "values")).scalars())
            if len(ids) == limit:
                return ids
            if ids:
                before = offset + len(ids)
            else:
                counted = self._query(0, 2**62, "values").order_by(None).limit(None).offset(None)
                before = conn.execute(
                    select(func.count()).select_from(counted.subquery())
                ).scalar_one()
            rest = self._query(max(0, offset - before), limit - len(ids), "rest")
            return ids + list(conn.execute(rest).scalars())

    def count(self) -> int:
        query = self._select()
        with _text_of_nul_falls_back(), read_transaction(self.engine) as conn:
            self._tune(conn, page=False)
            return int(
                conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            )

    def statement(self, offset: int = 0, limit: int = 25):
        """The page query (for EXPLAIN in tests): the metric-first split's first part."""
        split = "values" if self.terms and self.terms[0][0].kind == "metrics" else None
        return self._query(offset, limit, split)
