"""The Redis online store (``redis://host:port/db``; needs ``pip install 'nbmlops[redis]'``).

One string per (view version, entity): a 60-character order prefix (event time, created time,
write order, each zero-padded so that strings compare like the numbers) followed by the JSON
array of values. Writes go through a Lua script that keeps the stored value when its prefix is
greater, so concurrent materializations cannot replace a newer value with an older one. The
views held are a hash; a generation counter, read in the same round trip as every lookup,
tells a reader that a view changed version.
"""

from __future__ import annotations

import json

import pyarrow as pa

from ..errors import OnlineStoreError
from .offline import SEQ
from .online import CREATED, TS, OnlineStore, OnlineView, safe_url

_PREFIX = "nbmlops:fv"
_VIEWS = f"{_PREFIX}:views"
_GEN = f"{_PREFIX}:gen"
_OFFSET = 2**62  # keeps negative microseconds (before 1970) positive
_ORDER = 60
_CHUNK = 1000
_KEEP_NEWER = """
local n = 0
for i, key in ipairs(KEYS) do
  local new = ARGV[i]
  local cur = redis.call('GET', key)
  if (not cur) or string.sub(cur, 1, 60) < string.sub(new, 1, 60) then
    redis.call('SET', key, new)
    n = n + 1
  end
end
return n
"""


def _order(ts: int, created: int | None, seq: int) -> str:
    return f"{ts + _OFFSET:020d}{0 if created is None else created + _OFFSET:020d}{seq:020d}"


def _entity(view_name: str, version: int, key: tuple) -> str:
    return f"{_PREFIX}:{view_name}:v{version}:{json.dumps(list(key), separators=(',', ':'))}"


class RedisOnlineStore(OnlineStore):
    """Online values in Redis."""

    def __init__(self, url: str):
        try:
            import redis
        except ImportError:
            raise OnlineStoreError(
                "the Redis online store needs the redis package: pip install 'nbmlops[redis]'"
            ) from None
        self.url = url
        self._redis = redis
        self.client = redis.Redis.from_url(url)
        try:
            self.client.ping()
        except redis.exceptions.RedisError as exc:
            raise OnlineStoreError(
                f"cannot reach the Redis online store at {safe_url(url)}: {exc}; start Redis or "
                "fix NBMLOPS_ONLINE_STORE"
            ) from None
        self._keep_newer = self.client.register_script(_KEEP_NEWER)
        self._view_cache: dict[str, OnlineView] = {}
        self._gen: bytes | None = None

    def close(self) -> None:
        self.client.close()

    def views(self) -> dict[str, OnlineView]:
        pipe = self.client.pipeline(transaction=True)
        pipe.get(_GEN)
        pipe.hgetall(_VIEWS)
        gen, found = pipe.execute()
        self._gen = gen
        self._view_cache = {k.decode(): OnlineView.from_json(v) for k, v in found.items()}
        return dict(self._view_cache)

    def _view(self, name: str) -> OnlineView:
        view = self._view_cache.get(name)
        if view is None:
            view = self.views().get(name)
            if view is None:
                raise self._missing(name)
        return view

    def lookup(self, name: str, keys: list[tuple]) -> tuple[OnlineView, list[tuple | None]]:
        for _attempt in range(3):
            view = self._view(name)
            names = [_entity(name, view.version, k) for k in keys]
            pipe = self.client.pipeline(transaction=False)
            pipe.get(_GEN)
            for i in range(0, len(names), _CHUNK):
                pipe.mget(names[i : i + _CHUNK])
            gen, *chunks = pipe.execute()
            if gen == self._gen:
                break
            self.views()  # a view changed version: read the layout again
        values = [v for chunk in chunks for v in chunk]
        return view, [None if v is None else self._decode(v) for v in values]

    def lookup_one(self, name: str, key: tuple) -> tuple[OnlineView, tuple | None]:
        view, rows = self.lookup(name, [key])
        return view, rows[0]

    @staticmethod
    def _decode(value: bytes) -> tuple:
        return (int(value[:20]) - _OFFSET, *json.loads(value[_ORDER:]))

    def write(self, view: OnlineView, table: pa.Table) -> int:
        held = self.views().get(view.name)
        fields = [f for f, _d in view.fields]
        cols = {c: table.column(c).to_pylist() for c in table.column_names}
        n = table.num_rows
        keys = list(zip(*(cols[k] for k in view.join_keys), strict=True)) if n else []
        values = list(zip(*(cols.get(f, [None] * n) for f in fields), strict=True)) if n else []
        written = 0
        for i in range(0, n, _CHUNK):
            names, payloads = [], []
            for j in range(i, min(i + _CHUNK, n)):
                names.append(_entity(view.name, view.version, keys[j]))
                order = _order(cols[TS][j], cols[CREATED][j], cols[SEQ][j])
                payloads.append(order + json.dumps(list(values[j]), separators=(",", ":")))
            written += int(self._keep_newer(keys=names, args=payloads))
        if held is None or held.version != view.version or held.digest != view.digest:
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(_VIEWS, view.name, view.to_json())
            pipe.incr(_GEN)
            pipe.execute()
            if held is not None:
                self._delete_version(held)
        self.views()
        return written

    def _delete_version(self, view: OnlineView) -> None:
        pattern = f"{_PREFIX}:{view.name}:v{view.version}:*"
        batch = []
        for key in self.client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                self.client.unlink(*batch)
                batch = []
        if batch:
            self.client.unlink(*batch)

    def drop(self, name: str) -> None:
        held = self.views().get(name)
        if held is None:
            return
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(_VIEWS, name)
        pipe.incr(_GEN)
        pipe.execute()
        self._delete_version(held)
        self.views()
