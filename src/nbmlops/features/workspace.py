"""``FeatureWorkspace``: the parts of a feature store — its settings, its registry records in the
metadata store, its offline files and its online store — opened on first use.

:class:`~nbmlops.features.FeatureStore` adds every feature operation as a method; the modules
that implement them (:mod:`.registry`, :mod:`.rows`, :mod:`.historical`, :mod:`.materialization`,
:mod:`.lookup`, :mod:`.skew`) take a workspace, so they never import the store class.

Offline files live under ``NBMLOPS_OFFLINE_STORE`` (any fsspec URL; default
``<home>/features/offline``), the online store at ``NBMLOPS_ONLINE_STORE`` (default
``sqlite:///<home>/features/online.db``; ``redis://host:port/db`` for Redis).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .. import _args
from ..config import Settings, get_settings
from ..errors import InvalidArgumentType

if TYPE_CHECKING:
    from ..store.features import FeatureRecords
    from .offline import OfflineStore
    from .online import OnlineStore

OFFLINE_ENV = "NBMLOPS_OFFLINE_STORE"
ONLINE_ENV = "NBMLOPS_ONLINE_STORE"


class FeatureWorkspace:
    """The registry records, offline store and online store of one feature store."""

    def __init__(
        self,
        offline: str | os.PathLike | None = None,
        online: str | None = None,
        settings: Settings | None = None,
    ):
        if settings is not None and not isinstance(settings, Settings):
            raise InvalidArgumentType(
                "FeatureStore(settings=...)", "nbmlops.get_settings() or None", settings
            )
        if offline is not None:
            offline = (
                _args.text(offline, "FeatureStore(offline=...)")
                if isinstance(offline, str) and "://" in offline
                else _args.path(offline, "FeatureStore(offline=...)")
            )
        _args.text(online, "FeatureStore(online=...)", optional=True)
        self.settings = settings or get_settings()
        home = self.settings.home
        self.offline_url = str(
            offline or os.environ.get(OFFLINE_ENV) or home / "features" / "offline"
        )
        self.online_url = str(
            online or os.environ.get(ONLINE_ENV) or f"sqlite:///{home / 'features' / 'online.db'}"
        )
        self._offline: OfflineStore | None = None
        self._online: OnlineStore | None = None

    def __repr__(self) -> str:
        from .online import safe_url

        return f"FeatureStore(offline={self.offline_url!r}, online={safe_url(self.online_url)!r})"

    # -- parts --------------------------------------------------------------------------------

    @property
    def records(self) -> FeatureRecords:
        from ..store import get_store

        return get_store(self.settings).features

    @property
    def offline(self) -> OfflineStore:
        if self._offline is None:
            from .offline import OfflineStore

            self._offline = OfflineStore(self.offline_url)
        return self._offline

    @property
    def online(self) -> OnlineStore:
        if self._online is None:
            from .online_stores import open_online_store

            self._online = open_online_store(self.online_url)
        return self._online

    def close(self) -> None:
        if self._online is not None:
            self._online.close()
            self._online = None
