"""The workspace store: run metadata in SQLAlchemy Core tables plus content-addressed artifacts.

``get_store()`` returns the store of the current settings (one per process and URL, created on
first use); ``Store`` pairs a :class:`MetadataStore` with an :class:`ArtifactStore`.
"""

from __future__ import annotations

import os
import threading

from ..config import Settings, get_settings, on_configure
from ._engine import reset_after_fork
from .artifacts import ArtifactStore, check_no_clash, validate_artifact_name
from .audit import AuditRecords
from .features import FeatureRecords
from .governance import GovernanceRecords
from .loop import LoopRecords
from .metadata import KILLED_REASON, TERMINAL, MetadataStore
from .migrations import LATEST as SCHEMA_VERSION
from .models import ModelRecords
from .monitoring import MonitoringRecords
from .predictions import PredictionRecords
from .rollouts import RolloutRecords
from .servers import ServerRecords

__all__ = [
    "KILLED_REASON",
    "SCHEMA_VERSION",
    "TERMINAL",
    "ArtifactStore",
    "AuditRecords",
    "FeatureRecords",
    "GovernanceRecords",
    "LoopRecords",
    "MetadataStore",
    "ModelRecords",
    "MonitoringRecords",
    "PredictionRecords",
    "ServerRecords",
    "Store",
    "check_no_clash",
    "get_store",
    "validate_artifact_name",
]


class Store:
    """Metadata and artifacts of one workspace."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.meta = MetadataStore(settings.store_url, **_engine_options(settings))
        self.artifacts = ArtifactStore(settings.artifacts)
        self.models = ModelRecords(self.meta)
        self.monitoring = MonitoringRecords(self.meta)
        self.features = FeatureRecords(self.meta)
        self.predictions = PredictionRecords(self.meta)
        self.loop = LoopRecords(self.meta)
        self.audit = AuditRecords(self.meta)
        self.governance = GovernanceRecords(self.meta, self.models)
        self.rollouts = RolloutRecords(self.meta)
        self.servers = ServerRecords(self.meta)

    def __repr__(self) -> str:
        return f"Store({self.meta!r}, {self.artifacts!r})"


def _engine_options(settings: Settings) -> dict[str, float]:
    """The settings an engine is built with: changing one needs a new engine."""
    return {
        "connect_timeout_s": settings.connect_timeout_s,
        "statement_timeout_s": settings.statement_timeout_s,
        "busy_timeout_s": settings.busy_timeout_s,
    }


_stores: dict[tuple[str, str], Store] = {}
_lock = threading.Lock()


def get_store(settings: Settings | None = None) -> Store:
    """The store for ``settings`` (default: the current settings), opened once per process."""
    settings = settings or get_settings()
    key = (settings.store_url, settings.artifacts)
    store = _stores.get(key)
    if store is None or store.settings != settings:
        with _lock:
            store = _stores.get(key)
            if store is not None and _engine_options(store.settings) != _engine_options(settings):
                # Other timeouts: open a new engine (runs holding the old store keep it).
                store = None
            if store is None:
                store = _stores[key] = Store(settings)
            elif store.settings != settings:
                # Same location, other timings (heartbeat, flush): keep the engine.
                store.settings = settings
    return store


def _forget_all() -> None:
    with _lock:
        for store in _stores.values():
            store.meta.dispose()
        _stores.clear()


def _after_fork() -> None:
    for store in _stores.values():
        reset_after_fork(store.meta.engine)


on_configure(_forget_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
