"""The models a server holds: each served reference (``churn``, ``churn@staging``,
``models:/churn/3``) follows the registry, and a rollout of its name adds a candidate.

A :class:`ServedModel` keeps one immutable :class:`Snapshot` (champion, rollout plan,
candidate); a request reads it once, so a switch in the middle of a request never mixes two
states. :meth:`ServedModel.refresh` resolves the reference again, loads and warms a new version
*before* swapping the snapshot, and keeps the few versions it loaded last so that returning to
one (an abort, a rollback) is instant.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequest, SchemaViolation
from ..registry._names import ModelRef, parse_ref

if TYPE_CHECKING:
    import pandas as pd

    from ..registry.signature import Signature
    from ._plan import RolloutPlan

log = logging.getLogger("nbmlops.serving")

_KEEP_LOADED = 4  # versions kept in memory per served name
_AS_IS = object()  # a request whose columns are already the model's, in order


@dataclass(frozen=True)
class Loaded:
    """One model version in memory, with what its requests are checked against."""

    name: str
    version: int
    model: Any
    signature: Signature
    # (columns, dtypes, extra) of requests that passed the check -> the columns to pass on.
    # Only kept when the verdict cannot depend on the values (no category levels, no
    # coercion), so the check costs a dict lookup for every request shaped like an earlier one.
    _passed: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def columns(self) -> list[str] | None:
        return [c.name for c in self.signature.columns] or None

    def check(self, frame: pd.DataFrame, allowed_extra: tuple[str, ...] = ()) -> pd.DataFrame:
        """``frame`` as the model takes it, or :class:`InvalidRequest` naming the column."""
        import pandas as pd

        shape = (tuple(frame.columns), tuple(map(str, frame.dtypes)), allowed_extra)
        known = self._passed.get(shape)
        if known is not None:
            return frame if known is _AS_IS else frame[known]
        specs = {c.name: c for c in self.signature.columns}
        original = frame
        if not all(isinstance(c, str) for c in frame.columns):
            frame = frame.rename(columns=str)  # a copy: only when a name is not text
        if specs:
            unknown = [c for c in frame.columns if c not in specs and c not in allowed_extra]
            if unknown:
                raise InvalidRequest(
                    f"unknown column {unknown[0]!r}: {self.uri} takes "
                    + ", ".join(repr(c) for c in specs),
                    column=unknown[0],
                )
            for name, spec in specs.items():
                if name not in frame.columns or frame[name].dtype != object:
                    continue
                column = frame[name]
                if frame is original:
                    frame = frame.copy()  # never change the caller's frame (it is logged)
                # JSON has no dates and no typed nulls: read them the way the signature says.
                if spec.family == "datetime":
                    try:
                        frame[name] = pd.to_datetime(column, utc=False)
                    except (ValueError, TypeError):
                        raise InvalidRequest(
                            f"column {name!r} must hold dates (ISO strings)", column=name
                        ) from None
                elif spec.family in ("float", "integer") and column.isna().all():
                    frame[name] = column.astype("float64")
        try:
            checked = self.signature.check(frame, self.uri)
        except SchemaViolation as exc:
            column = next(iter([*exc.missing, *exc.mistyped, *exc.unknown_categories]), None)
            raise InvalidRequest(str(exc), column=column) from None
        cacheable = frame is original and not any(
            c.categories is not None for c in self.signature.columns
        )
        if cacheable and len(self._passed) < 64:
            names = list(checked.columns)
            self._passed[shape] = _AS_IS if names == list(frame.columns) else names
        return checked

    def predict(self, checked: pd.DataFrame) -> Any:
        """``model.predict``; the model refusing the values (NaN it cannot take, text in a
        number) is the caller's input, so an :class:`InvalidRequest`."""
        import numpy as np

        try:
            return np.asarray(self.model.predict(checked))
        except (ValueError, TypeError) as exc:
            raise InvalidRequest(
                f"{self.uri} cannot predict on this data: {type(exc).__name__}: {str(exc)[:300]}"
            ) from None


@dataclass(frozen=True)
class Snapshot:
    """What a served reference answers with right now."""

    champion: Loaded
    plan: RolloutPlan | None = None
    candidate: Loaded | None = None


def load_version(name: str, version: int, trusted: bool | list[str]) -> Loaded:
    """Load version ``version`` of ``name`` and warm it on one reference row."""
    from ..predictions.reference import load_reference
    from ..registry.versions import resolve

    mv = resolve(ModelRef(name, version))
    model = mv.load(trusted)
    if not callable(getattr(model, "predict", None)):
        from ..errors import ServingError

        raise ServingError(f"{mv.uri} ({mv.model_class}) has no predict method to serve")
    loaded = Loaded(name, version, model, mv.signature)
    reference = load_reference(name, version)
    if reference is not None and len(reference):
        try:
            # The first request should not pay for lazy initialisation inside the model.
            loaded.predict(loaded.check(reference.head(1)))
        except InvalidRequest as exc:
            log.warning("warming %s on its reference row failed: %s", loaded.uri, exc)
    return loaded


class ServedModel:
    """One served reference, following the registry."""

    def __init__(self, ref: str, trusted: bool | list[str] = False):
        self.ref: ModelRef = parse_ref(ref)
        self.trusted = trusted
        self._cache: OrderedDict[int, Loaded] = OrderedDict()
        self._lock = threading.Lock()
        self.snapshot: Snapshot | None = None
        # Columns accepted beside the signature's: id columns the server was told about and
        # every rollout key seen (clients keep sending it after a rollout ends).
        self.extra_columns: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def follows(self) -> bool:
        """True unless the reference pins a version number."""
        return self.ref.version is None

    def _get(self, version: int) -> Loaded:
        with self._lock:
            found = self._cache.get(version)
            if found is not None:
                self._cache.move_to_end(version)
                return found
        loaded = load_version(self.name, version, self.trusted)
        with self._lock:
            self._cache[version] = loaded
            while len(self._cache) > _KEEP_LOADED:
                self._cache.popitem(last=False)
        return loaded

    def resolve_version(self) -> int:
        from ..registry._context import current_store

        if self.ref.version is not None:
            return self.ref.version
        return current_store().models.resolve(self.name, self.ref.selector or "production")

    def refresh(self, plan: RolloutPlan | None = None) -> bool:
        """Resolve the reference (and the rollout ``plan`` of its name) again; load and warm
        what changed, then swap. Returns True when what is served changed."""
        version = self.resolve_version()
        current = self.snapshot
        champion = self._get(version)
        candidate = None
        if plan is not None and plan.key and plan.key not in self.extra_columns:
            self.extra_columns = (*self.extra_columns, plan.key)
        if plan is not None and plan.active and self.follows and plan.candidate != version:
            candidate = self._get(plan.candidate)
        else:
            plan = None
        new = Snapshot(champion, plan, candidate)
        if current == new:
            return False
        self.snapshot = new
        return True
