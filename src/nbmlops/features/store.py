"""``FeatureStore``: the registry (metadata store), the offline store and the online store of
one workspace (:class:`~nbmlops.features.workspace.FeatureWorkspace`), with every feature
operation as a method.

The module-level functions of :mod:`nbmlops.features` use the store of the current workspace
(:func:`default_store`), located by ``NBMLOPS_OFFLINE_STORE`` and ``NBMLOPS_ONLINE_STORE``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..config import get_settings, on_configure
from .workspace import OFFLINE_ENV, ONLINE_ENV, FeatureWorkspace

if TYPE_CHECKING:
    import datetime as dt

    import pandas as pd

    from .definition import FeatureView
    from .offline import WriteResult
    from .skew import SkewReport


class FeatureStore(FeatureWorkspace):
    """Feature views, their offline rows and online values in one workspace.

    >>> fs = FeatureStore(online="redis://localhost:6379/0")  # doctest: +SKIP
    >>> fs.apply(customer_stats)  # doctest: +SKIP
    """

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
        from .rows import ingest

        return ingest(self, view, data)

    def offline_rows(
        self, view: FeatureView | str, version: int | None = None, latest: bool = False
    ) -> pd.DataFrame:
        from .rows import read_rows

        return read_rows(self, view, version, latest)

    def get_historical_features(
        self,
        entity_df: pd.DataFrame,
        features: Sequence[str] | str,
        *,
        full_feature_names: bool = False,
        timestamp: str = "event_timestamp",
        name: str = "training_set",
        engine: str | None = None,
        scheduler=None,
        output=None,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        from .historical import get_historical_features

        return get_historical_features(
            self,
            entity_df,
            features,
            full_feature_names=full_feature_names,
            timestamp=timestamp,
            name=name,
            engine=engine,
            scheduler=scheduler,
            output=output,
            progress=progress,
        )

    # -- online -------------------------------------------------------------------------------

    def materialize(
        self,
        start: dt.datetime | str | None = None,
        end: dt.datetime | str | None = None,
        views: Sequence[FeatureView | str] | None = None,
    ) -> pd.DataFrame:
        from .materialization import materialize

        return materialize(self, start, end, views)

    def materialize_incremental(
        self, end: dt.datetime | str | None = None, views: Sequence[FeatureView | str] | None = None
    ) -> pd.DataFrame:
        from .materialization import materialize_incremental

        return materialize_incremental(self, end, views)

    def get_online_features(
        self, features: Sequence[str] | str, entity_rows: Any, *, full_feature_names: bool = False
    ) -> Any:
        from .lookup import get_online_features

        return get_online_features(self, features, entity_rows, full_feature_names)

    def check_skew(
        self, view: FeatureView | str, entity_rows: Any, *, at: Any = None, rtol: float = 1e-9
    ) -> SkewReport:
        from .skew import check_skew

        return check_skew(self, view, entity_rows, at=at, rtol=rtol)


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
