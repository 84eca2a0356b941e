"""``VersionRecord``: what the registry holds about one model version (its row, run, signature,
metrics), read fresh on every access. :class:`~nbmlops.registry.versions.ModelVersion` adds the
model itself and the actions; the model card and stage changes need only the record."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..errors import RunNotFound
from ..tracking.run import Run
from .signature import Signature

if TYPE_CHECKING:
    import pandas as pd

    from ..store import Store


class VersionRecord:
    """The stored facts of version ``version`` of model ``name``."""

    def __init__(self, store: Store, name: str, version: int):
        self._store = store
        self.name = name
        self.version = version

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VersionRecord) and (other.name, other.version) == (
            self.name,
            self.version,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.version))

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    # -- metadata ------------------------------------------------------------------------------

    def _row(self) -> dict:
        return self._store.models.get_version(self.name, self.version)

    @property
    def deleted(self) -> bool:
        """True once :func:`nbmlops.delete_model_version` removed this version."""
        return self._store.models.deletion(self.name, self.version) is not None

    @property
    def info(self) -> dict[str, Any]:
        """Every stored field of the version."""
        return self._row()

    @property
    def stage(self) -> str | None:
        """``staging``, ``production``, ``archived`` or None (registered, never promoted)."""
        return self._row()["stage"]

    @property
    def aliases(self) -> list[str]:
        return self._row()["aliases"]

    @property
    def run_id(self) -> str | None:
        return self._row()["run_id"]

    @property
    def run(self) -> Run | None:
        run_id = self.run_id
        return Run(self._store, run_id) if run_id else None

    @property
    def description(self) -> str | None:
        return self._row()["description"]

    @property
    def tags(self) -> dict[str, str]:
        return json.loads(self._row()["tags"] or "{}")

    @property
    def card_fields(self) -> dict[str, str]:
        """User-written model card fields (``intended_use``, ``limitations``, …)."""
        return json.loads(self._row()["card"] or "{}")

    @property
    def signature(self) -> Signature:
        text = self._row()["signature"]
        return Signature.from_dict(json.loads(text)) if text else Signature()

    @property
    def packages(self) -> dict[str, str]:
        """Python and package versions when the model was saved."""
        return json.loads(self._row()["packages"])

    @property
    def flavor(self) -> str:
        return self._row()["flavor"]

    @property
    def model_class(self) -> str:
        return self._row()["model_class"]

    @property
    def created_at(self) -> float:
        return self._row()["created_at"]

    @property
    def evaluation(self) -> pd.DataFrame:
        """Metrics stored by :func:`nbmlops.evaluate`: one row per segment ("" = overall)."""
        import pandas as pd

        rows = self._store.models.version_metrics(self.name, self.version)
        if not rows:
            return pd.DataFrame(columns=["segment", "n"])
        frame = pd.DataFrame(rows)
        wide = frame.pivot_table(
            index="segment", columns="key", values="value", aggfunc="first", dropna=False
        )
        counts = frame.groupby("segment")["n"].first()
        wide.insert(0, "n", counts)
        wide = wide.reset_index()
        wide.columns.name = None
        return wide

    @property
    def metrics(self) -> dict[str, float]:
        """The run's latest metrics, overridden by the version's overall evaluation."""
        merged: dict[str, float] = {}
        run = self.run
        if run is not None:
            try:
                merged.update(run.metrics)
            except RunNotFound:
                pass
        for row in self._store.models.version_metrics(self.name, self.version):
            if row["segment"] == "":
                merged[row["key"]] = float("nan") if row["value"] is None else row["value"]
        return merged
