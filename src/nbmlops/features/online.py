"""The online store's protocol: :class:`OnlineStore` (the latest value of every feature per
entity, for serving) and :class:`OnlineView` (what it knows of a feature view).

Implementations: SQLite (default, one file, :mod:`.online_sqlite`) and Redis
(:mod:`.online_redis`), chosen by URL in :func:`.online_stores.open_online_store`. Reading
values is :mod:`.lookup`; loading them from the offline store is :mod:`.materialization`.
"""

from __future__ import annotations

import abc
import json
import re
from typing import NamedTuple

import pyarrow as pa

from ..errors import OnlineStoreError
from .definition import FeatureView

TS, CREATED = "__ts", "__created"


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


class OnlineView(NamedTuple):
    """What the online store knows of the view version it holds."""

    name: str
    version: int
    digest: str
    join_keys: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]  # (name, dtype)
    ttl: float | None

    @classmethod
    def of(cls, view: FeatureView) -> OnlineView:
        assert view.version is not None
        return cls(
            view.name,
            view.version,
            view.digest,
            tuple(view.join_keys),
            tuple((f.name, f.dtype) for f in view.fields),
            view.ttl,
        )

    def to_json(self) -> str:
        return json.dumps(self._asdict())

    @classmethod
    def from_json(cls, text: str | bytes) -> OnlineView:
        doc = json.loads(text)
        return cls(
            doc["name"],
            int(doc["version"]),
            doc["digest"],
            tuple(doc["join_keys"]),
            tuple(tuple(f) for f in doc["fields"]),  # type: ignore[misc]
            doc["ttl"],
        )


class OnlineStore(abc.ABC):
    """A key-value store of the newest feature row per (view, entity key).

    Rows read back are tuples ``(event_time_us, value, …)`` in field order; booleans may come
    back as 0/1 and datetimes as microseconds since the epoch (see :func:`decoders`).
    """

    url: str

    @abc.abstractmethod
    def views(self) -> dict[str, OnlineView]:
        """The views held, by name (freshly read)."""

    @abc.abstractmethod
    def write(self, view: OnlineView, table: pa.Table) -> int:
        """Upsert rows (join keys, ``__ts``, ``__created``, ``__seq``, fields) of ``view``,
        keeping a stored row that is newer; switch to ``view``'s version first if needed.
        Return the number of rows written."""

    @abc.abstractmethod
    def lookup(self, name: str, keys: list[tuple]) -> tuple[OnlineView, list[tuple | None]]:
        """The stored row (or None) for each key of view ``name``."""

    def lookup_one(self, name: str, key: tuple) -> tuple[OnlineView, tuple | None]:
        view, rows = self.lookup(name, [key])
        return view, rows[0]

    @abc.abstractmethod
    def drop(self, name: str) -> None:
        """Forget view ``name`` and its values."""

    def close(self) -> None:  # noqa: B027 - optional for backends
        """Release connections."""

    _view_cache: dict[str, OnlineView]

    def cached_view(self, name: str) -> OnlineView:
        """The view ``name`` as last read (read again when unknown); raise if not held."""
        view = self._view_cache.get(name)
        if view is None:
            view = self.views().get(name)
            if view is None:
                raise self._missing(name)
        return view

    def _missing(self, name: str) -> OnlineStoreError:
        return OnlineStoreError(
            f"the online store {safe_url(self.url)} holds no values of feature view {name!r}; "
            "load them with nbmlops.features.materialize() (or `nbmlops features materialize`)"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({safe_url(self.url)!r})"
