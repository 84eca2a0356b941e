"""``open_online_store``: the online store implementation for a URL."""

from __future__ import annotations

from ..errors import OnlineStoreError
from .online import OnlineStore, safe_url


def open_online_store(url: str) -> OnlineStore:
    """The online store at ``url``: ``sqlite:///path/online.db`` or ``redis://host:port/db``."""
    if url.startswith("sqlite:"):
        from .online_sqlite import SQLiteOnlineStore

        return SQLiteOnlineStore(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .online_redis import RedisOnlineStore

        return RedisOnlineStore(url)
    raise OnlineStoreError(
        f"unknown online store URL {safe_url(url)!r}; use sqlite:////abs/path/online.db or "
        "redis://host:6379/0"
    )
