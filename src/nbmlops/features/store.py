"""``FeatureStore``: the registry (metadata store), the offline store and the online store of
one workspace, with every feature operation as a method.

The module-level functions of :mod:`nbmlops.features` use the store of the current workspace:
offline files under ``NBMLOPS_OFFLINE_STORE`` (any fsspec URL; default
``<home>/features/offline``) and the online store at ``NBMLOPS_ONLINE_STORE`` (default
``sqlite:///<home>/features/online.db``; ``redis://host:port/db`` for Redis).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .. import _args
from ..config import Settings, get_settings, on_configure
from ..errors import InvalidArgumentType

if TYPE_CHECKING:
    import datetime as dt

    import pandas as pd

    from ..store.features import FeatureRecords
    from .definition import FeatureView
    from .offline import OfflineStore, WriteResult
    from .online import OnlineStore
    from .skew import SkewReport

OFFLINE_ENV = "NBMLOPS_OFFLINE_STORE"
ONLINE_ENV = "NBMLOPS_ONLINE_STORE"


class FeatureStore:
    """Feature views, their offline rows and online values in one workspace.

    >>> fs = FeatureStore(online="redis://localhost:6379/0")  # doctest: +SKIP
    >>> fs.apply(customer_stats)  # doctest: +SKIP
    """

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
            from .online import open_online_store

            self._online = open_online_store(self.online_url)
        return self._online

    # -- registry -----------------------------------------------------------------------------

    def apply(self, *views: FeatureView | Iterable[FeatureView]) -> list[FeatureView]:
        """Register views (a changed definition becomes a new version); return them."""
        from . import registry
        from .definition import FeatureView

        flat: list[FeatureView] = []
        for item in views:
            flat.extend([item] if isinstance(item, FeatureView) else list(item))
        return registry.apply(self, flat)

    def get_view(self, name: str, version: int | None = None) -> FeatureView:
        from . import registry

        return registry.get_view(self, name, version)

    def catalog(self, search: str | None = None, fields: bool = False) -> pd.DataFrame:
        from . import registry

        return registry.catalog(self, search, fields)

    def versions(self, name: str) -> pd.DataFrame:
        from . import registry

        return registry.versions(self, name)

    # -- offline ------------------------------------------------------------------------------

    def ingest(self, view: FeatureView | str, data: Any = None) -> WriteResult:
        from .offline import ingest

        return ingest(self, view, data)

    def offline_rows(
        self, view: FeatureView | str, version: int | None = None, latest: bool = False
    ) -> pd.DataFrame:
        from .offline import read_rows

        return read_rows(self, view, version, latest)

    def get_historical_features(
        self,
        entity_df: pd.DataFrame,
        features: Sequence[str] | str,
        *,
        full_feature_names: bool = False,
        timestamp: str = "event_timestamp",
        name: str = "training_set",
    ) -> pd.DataFrame:
        from .historical import get_historical_features

        return get_historical_features(
            self,
            entity_df,
            features,
            full_feature_names=full_feature_names,
            timestamp=timestamp,
            name=name,
        )

    # -- online -------------------------------------------------------------------------------

    def materialize(
        self,
        start: dt.datetime | str | None = None,
        end: dt.datetime | str | None = None,
        views: Sequence[FeatureView | str] | None = None,
    ) -> pd.DataFrame:
        from .online import materialize

        return materialize(self, start, end, views)

    def materialize_incremental(
        self, end: dt.datetime | str | None = None, views: Sequence[FeatureView | str] | None = None
    ) -> pd.DataFrame:
        from .online import materialize_incremental

        return materialize_incremental(self, end, views)

    def get_online_features(
        self, features: Sequence[str] | str, entity_rows: Any, *, full_feature_names: bool = False
    ) -> Any:
        from .online import get_online_features

        return get_online_features(self, features, entity_rows, full_feature_names)

    def check_skew(
        self, view: FeatureView | str, entity_rows: Any, *, at: Any = None, rtol: float = 1e-9
    ) -> SkewReport:
        from .skew import check_skew

        return check_skew(self, view, entity_rows, at=at, rtol=rtol)

    def close(self) -> None:
        if self._online is not None:
            self._online.close()
            self._online = None


_default: dict[tuple, FeatureStore] = {}
_lock = threading.Lock()


def default_store() -> FeatureStore:
    """The feature store of the current settings and environment (one per process)."""
    settings = get_settings()
    key = (settings, os.environ.get(OFFLINE_ENV), os.environ.get(ONLINE_ENV))
    with _lock:
        fs = _default.get(key)
        if fs is None:
            fs = _default[key] = FeatureStore(settings=settings)
    return fs


def _forget() -> None:
    with _lock:
        for fs in _default.values():
            fs.close()
        _default.clear()


on_configure(_forget)
