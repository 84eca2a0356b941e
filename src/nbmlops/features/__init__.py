"""The feature store: features defined as code, point-in-time training sets, online lookups.

>>> from datetime import timedelta
>>> from nbmlops import features
>>> customer = features.Entity("customer", join_keys=["customer_id"])
>>> stats = features.FeatureView(
...     "customer_stats", entities=[customer], timestamp="ts", ttl=timedelta(days=1),
...     fields=[features.Field("spend_7d", "float64", min=0)],
... )
>>> features.apply(stats)  # doctest: +SKIP
>>> features.ingest(stats, rows)  # doctest: +SKIP
>>> train = features.get_historical_features(entity_df, ["customer_stats:spend_7d"])  # doctest: +SKIP
>>> features.materialize()  # doctest: +SKIP
>>> features.get_online_features(["customer_stats:spend_7d"], {"customer_id": 7})  # doctest: +SKIP

Every function uses the workspace's :class:`FeatureStore`; build one yourself to point at
another offline root (any fsspec URL) or online store (``sqlite:///…``, ``redis://…``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd

from .definition import Entity, FeatureView, Field, feature_view
from .offline import OfflineStore, WriteResult
from .online import OnlineStore
from .online_stores import open_online_store
from .skew import SkewReport
from .store import FeatureStore, default_store


def apply(*views: FeatureView | Sequence[FeatureView]) -> list[FeatureView]:
    """Register feature views in the workspace (a changed definition is a new version)."""
    return default_store().apply(*views)


def get_view(name: str, version: int | None = None) -> FeatureView:
    """The registered view ``name`` (its latest version unless ``version`` is given)."""
    return default_store().get_view(name, version)


def catalog(search: str | None = None, fields: bool = False) -> pd.DataFrame:
    """Registered views (or their fields), optionally filtered by a search text."""
    return default_store().catalog(search, fields)


def versions(name: str) -> pd.DataFrame:
    """Every version of a view."""
    return default_store().versions(name)


def ingest(view: FeatureView | str, data: Any = None) -> WriteResult:
    """Transform, validate and write feature rows to the offline store."""
    return default_store().ingest(view, data)


def offline_rows(
    view: FeatureView | str, version: int | None = None, latest: bool = False
) -> pd.DataFrame:
    """The stored feature rows of a view (``latest=True``: the newest row per entity)."""
    return default_store().offline_rows(view, version, latest)


def get_historical_features(
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
    """Point-in-time correct feature values for every row of ``entity_df``; entity rows larger
    than memory (path, DuckDB relation, Arrow dataset, Dask DataFrame) are joined on DuckDB or
    Dask (``engine``, ``scheduler``) into ``output`` or a lazy result."""
    return default_store().get_historical_features(
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


def materialize(
    start: dt.datetime | str | None = None,
    end: dt.datetime | str | None = None,
    views: Sequence[FeatureView | str] | None = None,
) -> pd.DataFrame:
    """Load the latest offline value per entity with event time in [start, end] online."""
    return default_store().materialize(start, end, views)


def materialize_incremental(
    end: dt.datetime | str | None = None, views: Sequence[FeatureView | str] | None = None
) -> pd.DataFrame:
    """Materialize what was written since the previous materialization, up to ``end``."""
    return default_store().materialize_incremental(end, views)


def get_online_features(
    features: Sequence[str] | str, entity_rows: Any, *, full_feature_names: bool = False
) -> Any:
    """Online feature values: a dict for one entity row (dict), a dict of lists for a list of
    rows, a DataFrame for a DataFrame."""
    return default_store().get_online_features(
        features, entity_rows, full_feature_names=full_feature_names
    )


def check_skew(
    view: FeatureView | str, entity_rows: Any, *, at: Any = None, rtol: float = 1e-9
) -> SkewReport:
    """Compare online values with the offline point-in-time values for the same keys."""
    return default_store().check_skew(view, entity_rows, at=at, rtol=rtol)


__all__ = [
    "Entity",
    "FeatureStore",
    "FeatureView",
    "Field",
    "OfflineStore",
    "OnlineStore",
    "SkewReport",
    "WriteResult",
    "apply",
    "catalog",
    "check_skew",
    "feature_view",
    "get_historical_features",
    "get_online_features",
    "get_view",
    "ingest",
    "materialize",
    "materialize_incremental",
    "offline_rows",
    "open_online_store",
    "versions",
]
