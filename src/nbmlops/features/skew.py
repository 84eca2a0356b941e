"""Training-serving skew: do online values equal what the offline store says they should be?

``check_skew(view, entity_rows)`` looks up the entities online and computes their offline
point-in-time values at the same instant (``at``, default now) for the version the online store
holds, then compares field by field: both null is a match, one null is a mismatch, numbers
match within ``rtol``. A stale online store (rows written offline but not materialized), a
serving path that wrote other values, or an online version older than the registry's show up
here.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import FeatureError
from .definition import FeatureView
from .historical import point_in_time_join
from .lookup import lookup
from .registry import Request, get_view

if TYPE_CHECKING:
    from .workspace import FeatureWorkspace

MAX_EXAMPLES = 20


class SkewReport:
    """Per-field mismatch counts (``summary``) and the mismatching values (``mismatches``)."""

    def __init__(
        self,
        view: str,
        online_version: int,
        latest_version: int,
        at: pd.Timestamp,
        summary: pd.DataFrame,
        mismatches: pd.DataFrame,
    ):
        self.view = view
        self.online_version = online_version
        self.latest_version = latest_version
        self.at = at
        self.summary = summary
        self.mismatches = mismatches

    @property
    def ok(self) -> bool:
        """True when every field matched and the online version is the latest."""
        return int(self.summary["mismatches"].sum()) == 0 and self.stale_version is False

    @property
    def stale_version(self) -> bool:
        return self.online_version != self.latest_version

    @property
    def n_mismatches(self) -> int:
        return int(self.summary["mismatches"].sum())

    def _headline(self) -> str:
        n = int(self.summary["compared"].max()) if len(self.summary) else 0
        bad = self.summary[self.summary["mismatches"] > 0]
        text = f"skew check of {self.view} v{self.online_version} at {self.at}: {n} entities, "
        text += (
            "no mismatches"
            if bad.empty
            else "mismatches in "
            + ", ".join(f"{r.field} ({r.mismatches})" for r in bad.itertuples())
        )
        if self.stale_version:
            text += (
                f"; the online store holds v{self.online_version} but v{self.latest_version} is "
                "registered: run nbmlops.features.materialize()"
            )
        return text

    def __repr__(self) -> str:
        return self._headline() + "\n" + self.summary.to_string(index=False)

    def _repr_html_(self) -> str:
        return (
            f"<div><p>{html.escape(self._headline())}</p>"
            + self.summary.to_html(index=False, escape=True)
            + "</div>"
        )

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}


def _equal(offline: pd.Series, online: pd.Series, kind: str, rtol: float) -> np.ndarray:
    off_null = offline.isna().to_numpy(dtype=bool)
    on_null = online.isna().to_numpy(dtype=bool)
    both = ~off_null & ~on_null
    same = off_null & on_null
    if kind == "float":
        a = offline.to_numpy(dtype="float64", na_value=np.nan)
        b = online.to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            close = np.isclose(a, b, rtol=rtol, atol=0.0, equal_nan=False)
        same |= both & close
    else:
        a = offline.astype(object).to_numpy()
        b = online.astype(object).to_numpy()
        idx = np.flatnonzero(both)
        same[idx] = [bool(a[i] == b[i]) for i in idx]
    return same


def check_skew(
    fs: FeatureWorkspace,
    view: FeatureView | str,
    entity_rows: Any,
    *,
    at: Any = None,
    rtol: float = 1e-9,
) -> SkewReport:
    """Compare online and offline values of every field of ``view`` for ``entity_rows``."""
    name = view.name if isinstance(view, FeatureView) else view
    latest = get_view(fs, name)
    held = fs.online.views().get(name)
    if held is None:
        raise fs.online._missing(name)
    pinned = get_view(fs, name, held.version)
    if isinstance(entity_rows, dict):
        entity_rows = [entity_rows]
    frame = pd.DataFrame(entity_rows) if not isinstance(entity_rows, pd.DataFrame) else entity_rows
    missing = [k for k in pinned.join_keys if k not in frame.columns]
    if missing:
        raise FeatureError(f"entity rows lack join keys {missing} of view {name!r}")
    keys = frame[list(pinned.join_keys)].reset_index(drop=True)
    now_us = time.time_ns() // 1000 if at is None else None
    stamp = (
        pd.Timestamp(now_us, unit="us")
        if at is None
        else pd.Timestamp(at).tz_convert("UTC").tz_localize(None)
        if pd.Timestamp(at).tzinfo
        else pd.Timestamp(at)
    )
    if now_us is None:
        now_us = int(stamp.value // 1000)
    entity = keys.assign(event_timestamp=stamp)
    fields = pinned.feature_names
    offline = point_in_time_join(fs, entity, [Request(pinned, fields, fields)], "event_timestamp")
    refs = [f"{name}@{held.version}:{f}" for f in fields]
    online = lookup(fs.online, refs, keys, now_us=now_us)
    rows, examples = [], []
    for field in fields:
        kind = pinned.field(field).kind
        off = pd.Series(offline[field]).reset_index(drop=True)
        on = pd.Series(online[field]).reset_index(drop=True)
        same = _equal(off, on, kind, rtol)
        bad = np.flatnonzero(~same)
        rows.append(
            {
                "field": field,
                "compared": len(keys),
                "mismatches": len(bad),
                "rate": len(bad) / len(keys) if len(keys) else 0.0,
                "online_null": int(on.isna().sum()),
                "offline_null": int(off.isna().sum()),
            }
        )
        if len(bad):
            part = keys.iloc[bad[:MAX_EXAMPLES]].copy()
            part["field"] = field
            part["offline"] = off.iloc[bad[:MAX_EXAMPLES]].astype(object).to_numpy()
            part["online"] = on.iloc[bad[:MAX_EXAMPLES]].astype(object).to_numpy()
            examples.append(part)
    mismatches = (
        pd.concat(examples, ignore_index=True)
        if examples
        else pd.DataFrame(columns=[*pinned.join_keys, "field", "offline", "online"])
    )
    return SkewReport(
        name,
        held.version,
        int(latest.version or 0),
        stamp,
        pd.DataFrame(rows),
        mismatches,
    )
