"""The run filter and order-by language, parsed into a small tree (no evaluation here).

One grammar takes both nbmlops' Python-like filters and MLflow's search syntax with MLflow's
meaning (docs/tracking.md has the rules with examples)::

    filter     := [ or ]                              -- "" or only spaces: every run
    or         := and  ( OR  and )*                   -- keywords in any case: and, AND, And
    and        := not  ( AND not )*
    not        := NOT not | "(" or ")" | comparison
    comparison := operand ( compare operand )+        -- 0.8 < metrics.acc < 0.9 chains
                | column IS [NOT] NULL
                | column [NOT] (LIKE | ILIKE) string
                | column [NOT] IN list
    compare    := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
    operand    := column | constant
    column     := name                                -- status, run_name, start_time, …
                | prefix "." key                      -- metrics.acc, params."my param"
                | "`" prefix "." anything "`"         -- `metrics.f1-macro` (nbmlops' form)
    prefix     := metrics | metric | params | param | parameter | parameters | tags | tag
                | attributes | attribute | attr | run   -- also in backticks: `metric`.a
                | datasets | dataset                   -- key: name, digest or context
    key        := word ( "." word )* | "`" anything "`" | '"' anything '"'
    constant   := number | 'text' | "text" | True | False | None | list
    list       := "[" constants "]" | "(" constants ")"

The tree is what another backend (SQL) compiles: :class:`Column` names one column of the
runs table (``Column.name``: ``metrics.acc``, ``params.C``, ``tags.team``, or an attribute
``run_id``, ``name``, ``status``, ``start_time``, ``end_time``, ``experiment``,
``duration_s``), or a field of the run's input data (``datasets.name``, ``datasets.digest``,
``datasets.context``: a comparison holds when any input of the run satisfies it);
:class:`Comparison` holds one column, one operator of :data:`OPERATORS` and a Python
constant (``str`` exactly when the user quoted it; a ``tuple`` for IN; ``None`` for IS
NULL); :class:`And`, :class:`Or`, :class:`Not` combine them; :class:`Everything` is the empty
filter. A comparison written constant-first (``0.9 < metrics.acc``) is stored column-first
(``metrics.acc > 0.9``). Every :class:`InvalidFilter` names the offending token and the
accepted form.
"""

from __future__ import annotations

import ast
import difflib
import re
import warnings
from dataclasses import dataclass
from typing import Union

from ..errors import InvalidFilter

OPERATORS = (
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "IN",
    "NOT IN",
    "LIKE",
    "ILIKE",
    "NOT LIKE",
    "NOT ILIKE",
    "IS NULL",
    "IS NOT NULL",
)
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}

# Prefix as written (lower case) -> the kind it names.
PREFIXES = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "parameter": "params",
    "parameters": "params",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
    "datasets": "datasets",
    "dataset": "datasets",
}
# What datasets.<key> reads of a run's input data (any input matching counts, as in MLflow).
DATASET_KEYS = ("name", "digest", "context")
DATASET_OPERATORS = ("=", "!=", "IN", "NOT IN", "LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE")
# Attribute as written -> the runs table's column. MLflow's names first, then nbmlops' own.
ATTRIBUTES = {
    "run_id": "run_id",
    "run_name": "name",
    "run name": "name",  # MLflow takes attributes.`Run name` too (any case)
    "name": "name",
    "status": "status",
    "start_time": "start_time",
    "created": "start_time",
    "end_time": "end_time",
    "experiment": "experiment",
    "duration_s": "duration_s",
}
# Attributes holding text: a number or boolean compared with one is refused, as in MLflow.
TEXT_ATTRIBUTES = {"run_id", "name", "status", "experiment"}
# MLflow keeps a run's name in this tag; nbmlops in the name attribute, which it means.
RUN_NAME_TAG = "mlflow.runName"
_KEYWORDS = {"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL"}
_CONSTANT_NAMES = {"True": True, "False": False, "None": None}
_ACCEPTED = (
    "metrics.<key>, params.<key>, tags.<key>, attributes.<name> or "
    "datasets.name / datasets.digest / datasets.context"
)


@dataclass(frozen=True)
class Column:
    """One column of the runs table: ``kind`` is metrics, params, tags or attribute."""

    kind: str
    key: str
    text: str  # as the user wrote it, for messages

    @property
    def name(self) -> str:
        """The runs table's column: ``metrics.acc``, ``params.C``, ``tags.t`` or ``status``."""
        return self.key if self.kind == "attribute" else f"{self.kind}.{self.key}"


@dataclass(frozen=True)
class Comparison:
    column: Column
    op: str  # one of OPERATORS
    value: object  # str only when quoted; tuple for IN / NOT IN; None for IS [NOT] NULL


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Everything:
    """The empty filter: every run, as in MLflow."""


Node = Union[Comparison, And, Or, Not, Everything]  # noqa: UP007 - readable on 3.9 too


@dataclass(frozen=True)
class OrderTerm:
    column: Column
    descending: bool


# -- tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # name, number, string, backtick, dot, op, punct, end
    text: str
    start: int
    end: int


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)")
_NAME = re.compile(r"[^\W\d]\w*")
_WORD = re.compile(r"\w+")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.S)
_BACKTICK = re.compile(r"`[^`]*`")
_OPS = ("==", "!=", "<=", ">=", "=", "<", ">")


def _tokens(text: str, fail) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        prev = out[-1] if out else None
        after_dot = prev is not None and prev.kind == "dot" and prev.end == i
        if after_dot and (m := _WORD.match(text, i)):
            out.append(_Token("name", m.group(), i, m.end()))
        elif ch == "." and prev is not None and prev.end == i and prev.kind in ("name", "backtick"):
            out.append(_Token("dot", ".", i, i + 1))
        elif m := _STRING.match(text, i):
            out.append(_Token("string", m.group(), i, m.end()))
        elif ch in "'\"":
            raise fail(f"the quote at character {i + 1} is never closed", text[i:])
        elif m := _BACKTICK.match(text, i):
            out.append(_Token("backtick", m.group(), i, m.end()))
        elif ch == "`":
            raise fail(
                f"the backtick at character {i + 1} is never closed; quote a key as "
                "metrics.`f1-macro`",
                text[i:],
            )
        elif (m := _NUMBER.match(text, i)) and not (
            ch in "+-" and prev is not None and prev.kind not in ("op", "punct")
        ):
            out.append(_Token("number", m.group(), i, m.end()))
        elif m := _NAME.match(text, i):
            out.append(_Token("name", m.group(), i, m.end()))
        elif op := next((o for o in _OPS if text.startswith(o, i)), None):
            out.append(_Token("op", op, i, i + len(op)))
        elif ch in "()[],":
            out.append(_Token("punct", ch, i, i + 1))
        else:
            hint = ""
            if prev is not None and prev.end == i and prev.kind == "name":
                word = re.match(r"\S+", text[_column_start(out) :]).group()
                kind, _, key = word.partition(".")
                hint = f"; quote a key with other characters in backticks: {kind}.`{key}`"
            if ch == ";":
                hint = "; join comparisons with and / or"
            raise fail(f"unexpected {ch!r} at character {i + 1}{hint}", ch)
        i = out[-1].end
    out.append(_Token("end", "", len(text), len(text)))
    return out


def _column_start(tokens: list[_Token]) -> int:
    """Where the dotted name ending at the last token starts."""
    k = len(tokens) - 1
    while k >= 2 and tokens[k - 1].kind == "dot" and tokens[k - 2].end == tokens[k - 1].start:
        k -= 2
    return tokens[k].start


# -- parser -----------------------------------------------------------------------------------


def shown(text: str) -> str:
    return repr(text) if len(text) <= 200 else repr(text[:200]) + f"… ({len(text)} characters)"


class _Parser:
    def __init__(self, text: str, what: str = "filter"):
        self.text = text
        self.what = what
        self.tokens = _tokens(text, self.fail)
        self.i = 0

    def fail(self, message: str, token: str | None = None) -> InvalidFilter:
        return InvalidFilter(f"cannot use {self.what} {shown(self.text)}: {message}")

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def word(self, offset: int = 0) -> str:
        tok = self.tokens[min(self.i + offset, len(self.tokens) - 1)]
        return tok.text.upper() if tok.kind == "name" else ""

    def take(self) -> _Token:
        tok = self.tok
        self.i += 1
        return tok

    def near(self) -> str:
        tok = self.tok
        return "the end of the filter" if tok.kind == "end" else f"{tok.text!r}"

    # or / and / not
    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.word() == "OR":
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_not()]
        while self.word() == "AND":
            self.take()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_not(self) -> Node:
        count = 0
        while self.word() == "NOT":  # iterative: "not not … x" never recurses
            self.take()
            count += 1
        if self.tok.kind == "punct" and self.tok.text == "(" and self._is_group():
            self.take()
            node = self.parse_or()
            self.expect(")", "to close the parenthesis")
        else:
            node = self.comparison()
        for _ in range(count):
            node = Not(node)
        return node

    def _is_group(self) -> bool:
        """Whether "(" opens a group, not a tuple constant (``('a', 'b') …`` is no filter)."""
        nxt = self.tokens[self.i + 1]
        return not (nxt.kind in ("string", "number") and self.tokens[self.i + 2].text == ",")

    def expect(self, text: str, why: str) -> None:
        if self.tok.text != text or self.tok.kind not in ("punct", "op"):
            raise self.fail(f"expected {text!r} {why}, found {self.near()}")
        self.take()

    # comparisons
    def comparison(self) -> Node:
        start = self.tok
        left = self.operand()
        word = self.word()
        negated = word == "NOT" and self.word(1) in ("IN", "LIKE", "ILIKE")
        if negated:
            self.take()
            word = self.word()
        if word == "IS":
            column = self.need_column(left, "IS NULL")
            if column.kind == "datasets":
                raise self.fail(
                    f"IS NULL does not apply to {column.text}: a run's input datasets are "
                    f"compared with =, !=, IN, LIKE, e.g. {column.text} = 'train'"
                )
            self.take()
            op = "IS NULL"
            if self.word() == "NOT":
                self.take()
                op = "IS NOT NULL"
            if self.word() != "NULL":
                raise self.fail(
                    f"IS is followed by NULL or NOT NULL, found {self.near()}; compare a value "
                    f"with =, e.g. {column.text} = 'RUNNING'"
                )
            self.take()
            return Comparison(column, op, None)
        if word in ("LIKE", "ILIKE"):
            column = self.need_column(left, word)
            self.take()
            value = self.operand()
            if not isinstance(value, str):
                raise self.fail(
                    f"{word} takes a quoted pattern, found {_text(value)}; write e.g. "
                    f"{column.text} {word} '%svm%'"
                )
            return Comparison(column, ("NOT " if negated else "") + word, value)
        if word == "IN":
            column = self.need_column(left, "IN")
            self.take()
            value = self.operand()
            if not isinstance(value, (list, tuple)):
                raise self.fail(
                    f"'in' needs a list, found {_text(value)}; write e.g. "
                    f"status in ['FAILED', 'KILLED']"
                )
            return self.checked(Comparison(column, "NOT IN" if negated else "IN", tuple(value)))
        if self.tok.kind != "op":
            what = f"{left.text!r}" if isinstance(left, Column) else repr(self.text[start.start :])
            raise self.fail(
                f"{what} is not a comparison: expected =, !=, <, <=, >, >=, IN, LIKE or IS NULL "
                f"after it, found {self.near()}; write e.g. metrics.accuracy > 0.9"
            )
        pairs = []
        while self.tok.kind == "op":
            op = "=" if self.tok.text == "==" else self.tok.text
            self.take()
            right = self.operand()
            pairs.append(self.pair(left, op, right))
            left = right
        return pairs[0] if len(pairs) == 1 else And(tuple(pairs))

    def pair(self, left, op: str, right) -> Comparison:
        if isinstance(left, Column) and isinstance(right, Column):
            raise self.fail(
                f"{right.text!r} is a column, not a value: compare a column with a constant "
                f"(quote text: {left.text} {op} '{right.text}')"
            )
        if isinstance(right, Column):
            left, op, right = right, _FLIP[op], left
        if not isinstance(left, Column):
            raise self.fail(
                f"{_text(left)} {op} {_text(right)} has no column; each comparison needs one, "
                "e.g. metrics.accuracy > 0.9"
            )
        if isinstance(right, (list, tuple)) and op not in ("=", "!="):
            raise self.fail(f"{left.text} {op} needs one value, not the list {_text(right)}")
        return self.checked(Comparison(left, op, right))

    def checked(self, node: Comparison) -> Comparison:
        """Metrics are numbers: a quoted value is refused where it is written. Tags and the
        text attributes are text: a number or boolean is refused (it could never match)."""
        values = node.value if isinstance(node.value, (list, tuple)) else [node.value]
        quoted = [x for x in values if isinstance(x, str)]
        column = node.column
        if column.kind == "metrics" and quoted:
            raise self.fail(
                f"{column.text} is a number and {quoted[0]!r} is quoted text; "
                f"compare it with a number without quotes, e.g. {column.text} > 0.9"
            )
        if column.kind == "datasets" and node.op not in DATASET_OPERATORS:
            raise self.fail(
                f"{column.text} {node.op} is not a dataset comparison: compare a run's input "
                f"datasets with =, !=, IN, NOT IN, LIKE or ILIKE and quoted text, e.g. "
                f"{column.text} = 'train'"
            )
        text = column.kind in ("tags", "datasets") or (
            column.kind == "attribute" and column.key in TEXT_ATTRIBUTES
        )
        bare = [x for x in values if isinstance(x, (bool, int, float))]
        if text and bare:
            raise self.fail(
                f"{column.text} is text and {bare[0]!r} is not quoted; quote the value, "
                + (
                    f"e.g. {column.text} {node.op} ('{bare[0]}')"
                    if node.op.endswith("IN")
                    else f"e.g. {column.text} {node.op} '{bare[0]}'"
                )
            )
        return node

    def need_column(self, left, word: str) -> Column:
        if not isinstance(left, Column):
            raise self.fail(f"{word} needs a column on its left, found {_text(left)}")
        return left

    def operand(self):
        tok = self.tok
        if tok.kind == "number":
            self.take()
            return ast.literal_eval(tok.text.lstrip("+"))
        if tok.kind == "string":
            self.take()
            return _string(tok.text, self.fail)
        if tok.kind == "punct" and tok.text in "[(":
            return self.constants()
        if (
            tok.kind == "name"
            and tok.text in _CONSTANT_NAMES
            and self.tokens[self.i + 1].kind != "dot"
        ):
            self.take()
            return _CONSTANT_NAMES[tok.text]
        if tok.kind in ("name", "backtick") and tok.text.upper() not in _KEYWORDS:
            return self.column()
        raise self.fail(f"expected a column or a value, found {self.near()}")

    def constants(self):
        opening = self.take().text
        closing = "]" if opening == "[" else ")"
        items = []
        while not (self.tok.kind == "punct" and self.tok.text == closing):
            value = self.operand()
            if isinstance(value, Column):
                raise self.fail(f"{value.text!r} in a list is a column; quote text: '{value.text}'")
            items.append(value)
            if self.tok.kind == "punct" and self.tok.text == ",":
                self.take()
            elif not (self.tok.kind == "punct" and self.tok.text == closing):
                raise self.fail(f"expected ',' or {closing!r} in a list, found {self.near()}")
        self.take()
        return items if opening == "[" else tuple(items)

    def column(self) -> Column:
        first = self.take()
        parts: list[tuple[str, str]] = [(first.kind, _unquote(first))]
        end = first.end
        while self.tok.kind == "dot" and self.tok.start == end:
            self.take()
            part = self.tok
            if part.start != end + 1 or part.kind not in ("name", "backtick", "string", "number"):
                raise self.fail(
                    f"expected a key after {self.text[first.start : end + 1]!r}, found "
                    f"{self.near()}; quote a key with other characters: metrics.`f1-macro`"
                )
            self.take()
            parts.append(
                (
                    part.kind,
                    _unquote(part) if part.kind != "string" else _string(part.text, self.fail),
                )
            )
            end = part.end
        text = self.text[first.start : end]
        if len(parts) == 1 and first.kind == "backtick" and "." in parts[0][1]:
            prefix, _, key = parts[0][1].partition(".")  # `metrics.f1-macro`: nbmlops' form
            parts = [("name", prefix), ("backtick", key)]
        if len(parts) == 1:
            word = parts[0][1]
            return Column(
                "attribute", ATTRIBUTES.get(word, ATTRIBUTES.get(word.lower(), word)), text
            )
        prefix = parts[0][1]
        kind = PREFIXES.get(prefix.lower())
        if kind is None:
            close = difflib.get_close_matches(prefix.lower(), list(PREFIXES), n=1)
            hint = f"did you mean {close[0]}.{parts[1][1]}? " if close else ""
            raise self.fail(f"unknown prefix {prefix!r} in {text!r}: {hint}use {_ACCEPTED}")
        key = ".".join(p for _, p in parts[1:])
        if kind == "attribute":
            if key not in ATTRIBUTES and key.lower() not in ATTRIBUTES:
                close = difflib.get_close_matches(key, list(ATTRIBUTES), n=1)
                raise self.fail(
                    f"{text!r} is no attribute of a run"
                    + (f"; did you mean {prefix}.{close[0]}?" if close else "")
                    + f" attributes are {', '.join(ATTRIBUTES)}"
                )
            key = ATTRIBUTES.get(key, ATTRIBUTES.get(key.lower()))
        if kind == "datasets" and key not in DATASET_KEYS:
            raise self.fail(
                f"{text!r} is no dataset key: a run's input datasets have "
                + ", ".join(f"{prefix}.{k}" for k in DATASET_KEYS)
            )
        if kind == "tags" and key == RUN_NAME_TAG:
            return Column("attribute", "name", text)
        return Column(kind, key, text)


def _unquote(tok: _Token) -> str:
    return tok.text[1:-1] if tok.kind == "backtick" else tok.text


def _string(literal: str, fail) -> str:
    try:
        with warnings.catch_warnings():  # '\d' warns "invalid escape sequence"
            warnings.simplefilter("ignore")  # SyntaxWarning, DeprecationWarning (3.11)
            return ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        raise fail(f"{literal} is not a valid quoted text", literal) from None


def _text(value) -> str:
    return repr(value.text) if isinstance(value, Column) else repr(value)


def parse_filter(text: str | None) -> Node:
    """The tree of a filter string (``None`` or blank: :class:`Everything`)."""
    if text is None:
        return Everything()
    if not isinstance(text, str):
        raise InvalidFilter(f"a filter is a string, got {type(text).__name__} {text!r:.60}")
    if not text.strip():
        return Everything()
    parser = _Parser(text)
    try:
        node = parser.parse_or()
    except RecursionError:
        raise too_nested(text) from None
    if parser.tok.kind != "end":
        tok = parser.tok
        hint = (
            "; join comparisons with and / or"
            if tok.kind in ("name", "backtick", "string", "number")
            else ""
        )
        raise parser.fail(f"unexpected {tok.text!r} at character {tok.start + 1}{hint}")
    return node


def too_nested(text: str) -> InvalidFilter:
    return InvalidFilter(
        f"cannot use filter {shown(text)}: it nests too deeply to parse; "
        "write it with fewer nested not/parentheses"
    )


def parse_order_by(order_by: str | list[str]) -> list[OrderTerm]:
    """``"metrics.acc DESC, start_time"`` (or a list of such strings) as order terms."""
    groups = [order_by] if isinstance(order_by, str) else list(order_by)
    terms: list[OrderTerm] = []
    for group in groups:
        parser = _Parser(str(group), "order")
        while parser.tok.kind != "end":
            if parser.tok.kind not in ("name", "backtick"):
                raise parser.fail(
                    f"expected a column to order by, found {parser.near()}; write e.g. "
                    "metrics.accuracy DESC"
                )
            column = parser.column()
            if column.kind == "attribute" and column.key not in set(ATTRIBUTES.values()):
                # MLflow refuses an unknown attribute too; a key no run has (metrics.x) is fine.
                close = difflib.get_close_matches(column.key, list(ATTRIBUTES), n=1)
                raise parser.fail(
                    f"{column.text!r} is no attribute of a run"
                    + (f" (did you mean {close[0]}?)" if close else "")
                    + f"; attributes are {', '.join(ATTRIBUTES)}, or write "
                    f"metrics.{column.key}, params.{column.key} or tags.{column.key}"
                )
            if column.kind == "datasets":
                raise parser.fail(
                    f"cannot order by {column.text!r}: a run has any number of input "
                    "datasets; order by metrics.<key>, params.<key>, tags.<key> or an attribute"
                )
            descending = False
            if parser.word() in ("ASC", "DESC"):
                descending = parser.take().text.upper() == "DESC"
            elif parser.tok.kind != "end" and parser.tok.text != ",":
                bad = parser.tok.text
                close = difflib.get_close_matches(bad.upper(), ["ASC", "DESC"], n=1)
                raise parser.fail(
                    f"{bad!r} after {column.text!r} is no direction: write ASC or DESC"
                    + (f" (did you mean {close[0]}?)" if close else "")
                )
            terms.append(OrderTerm(column, descending))
            if parser.tok.text == "," and parser.tok.kind == "punct":
                parser.take()
            elif parser.tok.kind != "end":
                raise parser.fail(
                    f"unexpected {parser.tok.text!r}; separate order terms with commas"
                )
    return terms


def columns_of(node: Node) -> list[Column]:
    """Every column a filter tree reads, in order of appearance."""
    found: list[Column] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Comparison):
            found.append(item.column)
        elif isinstance(item, (And, Or)):
            stack.extend(reversed(item.items))
        elif isinstance(item, Not):
            stack.append(item.item)
    return found
