"""``MonitorDefinition``: what a saved monitor watches and does on alert (the fields stored in
the workspace). :class:`~nbmlops.monitoring.monitors.Monitor` adds the operations; retraining
and the timeline figure read the definition alone, so they need not import the monitors."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

DEFAULT_CHECKS = ["dataset_drift"]


@dataclasses.dataclass
class MonitorDefinition:
    """The stored fields of a monitor (see :func:`nbmlops.monitor` for what each means)."""

    name: str
    model_name: str
    window: str = "1d"
    checks: list[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_CHECKS))
    segments: list[str] = dataclasses.field(default_factory=list)
    reference_digest: str | None = None
    retrain: str | None = None
    gates: list[str] | None = None
    auto_promote: bool = False
    holdout: float = 0.3
    parameters: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))
