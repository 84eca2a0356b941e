"""Feature views as code: :class:`Entity`, :class:`Field`, :class:`FeatureView`.

A view's *digest* is the sha256 of everything that decides its values: join keys, timestamp
columns, TTL, fields (dtype, nullability, range, allowed values), the source and the source
code of the transformation. Applying a view with a new digest registers a new version; older
versions stay readable. Descriptions, tags and the owner are catalog metadata: changing them
updates the catalog without a new version.

>>> customer = Entity("customer", join_keys=["customer_id"])
>>> view = FeatureView(
...     "customer_stats",
...     entities=[customer],
...     fields=[Field("spend_7d", "float64", min=0), Field("n_tx_7d", "int64", nullable=False)],
...     timestamp="event_timestamp",
...     ttl="1d",
... )
>>> view.join_keys
('customer_id',)
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import inspect
import json
import math
import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .. import _args
from ..errors import FeatureError

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")  # fullmatch: no trailing newline

# dtype -> (kind, pandas dtype of an output column, description)
DTYPES: dict[str, tuple[str, str]] = {
    "float64": ("float", "float64"),
    "float32": ("float", "float32"),
    "int64": ("int", "Int64"),
    "int32": ("int", "Int32"),
    "bool": ("bool", "boolean"),
    "string": ("string", "string"),
    "datetime": ("datetime", "datetime64[us]"),
}
_ALIASES = {
    "float": "float64",
    "double": "float64",
    "int": "int64",
    "integer": "int64",
    "str": "string",
    "object": "string",
    "boolean": "bool",
    "timestamp": "datetime",
    "datetime64": "datetime",
    "datetime64[ns]": "datetime",
    "datetime64[us]": "datetime",
}
_PYTHON_TYPES = {
    float: "float64",
    int: "int64",
    bool: "bool",
    str: "string",
    dt.datetime: "datetime",
}
_TTL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _string_tags(tags: object, argument: str) -> dict[str, str]:
    """``{name: text}`` tags, or ``InvalidArgumentType``/``FeatureError`` saying what is wrong."""
    tags = _args.mapping(tags, argument, optional=True)
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise FeatureError(f"{argument}: tags map names to text, got {key!r}: {value!r}")
        _args.text(key, argument)
        _args.text(value, argument)
    return tags


def _check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise FeatureError(
            f"{kind} name {name!r} is not valid: use letters, digits and underscores, starting "
            "with a letter or underscore, at most 128 characters (e.g. 'customer_spend')"
        )
    return name


def normalize_dtype(dtype: object) -> str:
    """The canonical dtype name of ``dtype`` (a name like ``"float64"`` or a Python type)."""
    if isinstance(dtype, type) and dtype in _PYTHON_TYPES:
        return _PYTHON_TYPES[dtype]
    name = str(dtype).lower() if isinstance(dtype, str) else str(dtype)
    name = _ALIASES.get(name, name)
    if name not in DTYPES:
        raise FeatureError(
            f"unknown feature dtype {dtype!r}; use one of {', '.join(DTYPES)} "
            "(or float, int, bool, str, datetime)"
        )
    return name


def ttl_seconds(ttl: object) -> float | None:
    """Seconds of a TTL given as a timedelta, a number of seconds or a string like ``"1d"``."""
    if ttl is None:
        return None
    if isinstance(ttl, dt.timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, (int, float)) and not isinstance(ttl, bool):
        seconds = float(ttl)
    elif isinstance(ttl, str) and _TTL_RE.match(ttl):
        number, unit = _TTL_RE.match(ttl).groups()  # type: ignore[union-attr]
        seconds = float(number) * _TTL_UNITS[unit]
    else:
        raise FeatureError(
            f"ttl must be a datetime.timedelta, seconds or a string like '1d', '12h', '30m'; "
            f"got {ttl!r} (use ttl=None for no limit)"
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise FeatureError(f"ttl must be a positive duration, got {ttl!r} (None = no limit)")
    return seconds


class Entity:
    """What features describe (a customer, a card…), identified by its join key columns."""

    def __init__(
        self, name: str, join_keys: Sequence[str] | str | None = None, description: str = ""
    ):
        self.name = _check_name("entity", name)
        keys = _args.strings(join_keys, "Entity(join_keys=...)", optional=True) or [name]
        if not keys:
            raise FeatureError(f"entity {name!r} needs at least one join key")
        self.join_keys = tuple(_check_name("join key", k) for k in keys)
        if len(set(self.join_keys)) != len(self.join_keys):
            raise FeatureError(f"entity {name!r} lists a join key twice: {list(self.join_keys)}")
        self.description = _args.text(description, "Entity(description=...)", optional=True) or ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "join_keys": list(self.join_keys),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Entity:
        return cls(doc["name"], doc["join_keys"], doc.get("description", ""))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entity) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.name, self.join_keys))

    def __repr__(self) -> str:
        return f"Entity({self.name!r}, join_keys={list(self.join_keys)!r})"


def _bound(value: object, dtype: str, what: str) -> Any:
    if value is None:
        return None
    kind = DTYPES[dtype][0]
    if kind == "datetime":
        import pandas as pd

        try:
            return pd.Timestamp(value).isoformat()
        except (TypeError, ValueError):
            raise FeatureError(f"{what} {value!r} is not a timestamp") from None
    if kind not in ("float", "int") or isinstance(value, bool):
        raise FeatureError(f"{what} applies to numeric and datetime fields, not {dtype}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FeatureError(f"{what} must be a number, got {value!r}") from None
    if math.isnan(number):
        raise FeatureError(f"{what} must be a number, got NaN")
    return int(number) if kind == "int" and number.is_integer() else number


class Field:
    """A typed feature column: dtype, nullability, an inclusive range or allowed values."""

    def __init__(
        self,
        name: str,
        dtype: object = "float64",
        *,
        description: str = "",
        nullable: bool = True,
        min: object = None,  # noqa: A002 - the natural names for a range
        max: object = None,  # noqa: A002
        allowed: Iterable[object] | None = None,
        tags: dict[str, str] | None = None,
    ):
        self.name = _check_name("field", name)
        self.dtype = normalize_dtype(dtype)
        self.description = _args.text(description, "Field(description=...)", optional=True) or ""
        self.nullable = _args.flag(nullable, "Field(nullable=...)")
        self.min = _bound(min, self.dtype, f"field {name!r}: min")
        self.max = _bound(max, self.dtype, f"field {name!r}: max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise FeatureError(f"field {name!r}: min {min!r} is greater than max {max!r}")
        if allowed is not None:
            if self.dtype not in ("string", "int64", "int32", "bool"):
                raise FeatureError(
                    f"field {name!r}: allowed values apply to string, integer and bool fields"
                )
            allowed = sorted(set(allowed), key=repr)
        self.allowed = None if allowed is None else tuple(allowed)
        self.tags = _string_tags(tags, "Field(tags=...)")

    @property
    def kind(self) -> str:
        return DTYPES[self.dtype][0]

    @property
    def pandas_dtype(self) -> str:
        return DTYPES[self.dtype][1]

    def rules(self) -> dict[str, Any]:
        """What the digest covers (everything but the description and tags)."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "nullable": self.nullable,
            "min": self.min,
            "max": self.max,
            "allowed": None if self.allowed is None else list(self.allowed),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.rules(), "description": self.description, "tags": self.tags}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Field:
        return cls(
            doc["name"],
            doc["dtype"],
            description=doc.get("description", ""),
            nullable=doc.get("nullable", True),
            min=doc.get("min"),
            max=doc.get("max"),
            allowed=doc.get("allowed"),
            tags=doc.get("tags"),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Field) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        extra = "" if self.nullable else ", nullable=False"
        if self.min is not None:
            extra += f", min={self.min!r}"
        if self.max is not None:
            extra += f", max={self.max!r}"
        return f"Field({self.name!r}, {self.dtype!r}{extra})"


def transformation_source(fn: Callable) -> str:
    """The source of ``fn`` without its decorators (what the digest covers).

    Functions defined in a notebook cell have their source in IPython's line cache. When no
    source can be found (built-ins, ``exec`` without a file), the compiled code is used.
    """
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        if code is None:
            raise FeatureError(
                f"cannot read the code of transformation {fn!r}; define it as a Python function"
            ) from None
        return f"# compiled {code.co_name}\n{code.co_code.hex()}\n{code.co_consts!r}"
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a lambda in the middle of a line
        return source.strip()
    node = tree.body[0] if tree.body else None
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.decorator_list:
        source = "\n".join(source.splitlines()[node.lineno - 1 :])
    return source.strip()


class FeatureView:
    """A named group of features of one or more entities, valid for ``ttl`` after their time.

    ``transformation`` turns the source DataFrame (``data`` given to ``ingest``, or the
    Parquet/CSV file ``source``) into feature rows holding the join keys, ``timestamp``,
    ``created_timestamp`` (optional: breaks ties between rows of the same event time) and the
    fields. Without a transformation the source rows are the feature rows.
    """

    def __init__(
        self,
        name: str,
        entities: Entity | Sequence[Entity],
        fields: Sequence[Field],
        *,
        timestamp: str = "event_timestamp",
        created_timestamp: str | None = None,
        ttl: object = None,
        transformation: Callable | None = None,
        source: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str | None = None,
        online: bool = True,
    ):
        self.name = _check_name("feature view", name)
        ents = (
            [entities]
            if isinstance(entities, Entity)
            else list(entities)
            if isinstance(entities, (list, tuple))
            else []
        )
        if not ents or not all(isinstance(e, Entity) for e in ents):
            raise FeatureError(f"feature view {name!r}: entities must be one or more Entity")
        self.entities = tuple(ents)
        keys: list[str] = []
        for entity in self.entities:
            keys.extend(k for k in entity.join_keys if k not in keys)
        self.join_keys = tuple(keys)
        fields = list(fields) if isinstance(fields, (list, tuple)) else []
        if not fields or not all(isinstance(f, Field) for f in fields):
            raise FeatureError(f"feature view {name!r}: fields must be one or more Field")
        self.fields = tuple(fields)
        self.timestamp = _check_name("timestamp column", timestamp)
        self.created_timestamp = (
            None
            if created_timestamp is None
            else _check_name("created timestamp column", created_timestamp)
        )
        names = [f.name for f in fields]
        reserved = [*self.join_keys, self.timestamp, self.created_timestamp]
        clashes = sorted({n for n in names if names.count(n) > 1 or n in reserved})
        if clashes:
            raise FeatureError(
                f"feature view {name!r}: field names must be unique and differ from the join "
                f"keys and timestamp columns; clashing: {clashes}"
            )
        if self.created_timestamp == self.timestamp or self.timestamp in self.join_keys:
            raise FeatureError(
                f"feature view {name!r}: timestamp, created_timestamp and join keys must differ"
            )
        self.ttl = ttl_seconds(ttl)
        if transformation is not None and not callable(transformation):
            raise FeatureError(f"feature view {name!r}: transformation must be a function")
        self.transformation = transformation
        self._transformation_source = (
            None if transformation is None else transformation_source(transformation)
        )
        if source is not None and not isinstance(source, str):
            raise FeatureError(
                f"feature view {name!r}: source must be a Parquet/CSV path or URL; pass "
                "DataFrames to nbmlops.features.ingest(view, data) instead"
            )
        self.source = source
        self.description = (
            _args.text(description, "FeatureView(description=...)", optional=True) or ""
        )
        self.tags = _string_tags(tags, "FeatureView(tags=...)")
        self.owner = _args.text(owner, "FeatureView(owner=...)", optional=True)
        self.online = _args.flag(online, "FeatureView(online=...)")
        self.version: int | None = None  # set by apply() or when read from the registry

    # -- identity -----------------------------------------------------------------------------

    @property
    def transformation_source(self) -> str | None:
        return self._transformation_source

    def rules(self) -> dict[str, Any]:
        """The part of the definition the digest covers."""
        return {
            "name": self.name,
            "join_keys": list(self.join_keys),
            "timestamp": self.timestamp,
            "created_timestamp": self.created_timestamp,
            "ttl": self.ttl,
            "fields": [f.rules() for f in self.fields],
            "source": self.source,
            "transformation": self._transformation_source,
        }

    @property
    def digest(self) -> str:
        text = json.dumps(self.rules(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise FeatureError(
            f"feature view {self.name!r} has no field {name!r}; its fields are "
            f"{', '.join(f.name for f in self.fields)}"
        )

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.fields]

    # -- documents ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entities": [e.to_dict() for e in self.entities],
            "fields": [f.to_dict() for f in self.fields],
            "timestamp": self.timestamp,
            "created_timestamp": self.created_timestamp,
            "ttl": self.ttl,
            "source": self.source,
            "description": self.description,
            "tags": self.tags,
            "owner": self.owner,
            "online": self.online,
        }

    @classmethod
    def from_record(cls, row: dict[str, Any]) -> FeatureView:
        """A view read from the registry: its transformation is known by source only."""
        doc = json.loads(row["definition"])
        view = cls(
            doc["name"],
            [Entity.from_dict(e) for e in doc["entities"]],
            [Field.from_dict(f) for f in doc["fields"]],
            timestamp=doc["timestamp"],
            created_timestamp=doc.get("created_timestamp"),
            ttl=doc.get("ttl"),
            source=doc.get("source"),
            description=doc.get("description", ""),
            tags=doc.get("tags"),
            owner=doc.get("owner"),
            online=doc.get("online", True),
        )
        view._transformation_source = row.get("transformation")
        view.version = int(row["version"])
        if view.digest != row["digest"]:  # pragma: no cover - would mean a corrupted registry
            raise FeatureError(f"feature view {view.name!r} v{view.version}: digest mismatch")
        return view

    def _repr_html_(self) -> str:
        """Entities, keys, ttl and the typed fields (static HTML)."""
        from ._html import feature_view_html

        return feature_view_html(self)

    def __repr__(self) -> str:
        version = f" v{self.version}" if self.version is not None else ""
        ttl = "none" if self.ttl is None else f"{self.ttl:g}s"
        return (
            f"<FeatureView {self.name}{version}: keys {list(self.join_keys)}, "
            f"{len(self.fields)} field{'' if len(self.fields) == 1 else 's'}, ttl {ttl}>"
        )


def feature_view(
    *,
    entities: Entity | Sequence[Entity],
    fields: Sequence[Field],
    name: str | None = None,
    **options: Any,
) -> Callable[[Callable], FeatureView]:
    """Decorator: the decorated function becomes the transformation of a new view.

    >>> customer = Entity("customer", join_keys="customer_id")
    >>> @feature_view(entities=customer, fields=[Field("amount")], timestamp="ts", ttl="7d")
    ... def payments(tx):
    ...     return tx[["customer_id", "ts", "amount"]]
    >>> payments.name
    'payments'
    """

    def wrap(fn: Callable) -> FeatureView:
        return FeatureView(name or fn.__name__, entities, fields, transformation=fn, **options)

    return wrap
