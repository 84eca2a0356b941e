"""The servers seen: every running server records itself in the store and refreshes that
record on its registry poll, so the panel, the sidebar and :func:`servers` show which servers
run, where, and which version (and rollout arm) each serves now.

A heartbeat is written when what the server serves changes, and otherwise at most every
``heartbeat_s`` seconds (the poll interval, at least 5 s), so a server polling every second
does not write to the store every second. A server not seen for :data:`GONE_AFTER` heartbeats
shows as ``gone`` (it died without stopping cleanly); a clean stop deletes its record.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..registry._context import current_store

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("nbmlops.serving")

MIN_HEARTBEAT_S = 5.0
GONE_AFTER = 3  # heartbeats missed before a server shows as gone

COLUMNS = [
    "server",
    "status",
    "url",
    "host",
    "pid",
    "name",
    "ref",
    "version",
    "rollout",
    "mode",
    "candidate",
    "share",
    "problem",
    "started_at",
    "last_seen",
]


class Presence:
    """The store record of one server: :meth:`beat` on every poll, :meth:`leave` on stop."""

    def __init__(self, server_id: str, poll: float, started_at: float):
        self.server_id = server_id
        self.heartbeat_s = max(float(poll), MIN_HEARTBEAT_S)
        self.started_at = started_at
        self.url: str | None = None
        self._written: tuple[float, str] | None = None  # (when, models JSON) last written

    def beat(self, status: dict[str, Any], now: float | None = None) -> bool:
        """Write the heartbeat if it is due or what is served changed; True when written.

        A store that cannot be written is logged and tried again on the next poll: serving
        never stops for it.
        """
        now = time.time() if now is None else now
        models = json.dumps(status, sort_keys=True, default=str)
        if (
            self._written is not None
            and self._written[1] == models
            and now - self._written[0] < self.heartbeat_s
        ):
            return False
        try:
            current_store().servers.beat(
                {
                    "id": self.server_id,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "url": self.url,
                    "started_at": self.started_at,
                    "last_seen": now,
                    "heartbeat_s": self.heartbeat_s,
                    "models": models,
                    "nbmlops_version": __version__,
                }
            )
        except Exception as exc:  # noqa: BLE001 - a heartbeat never stops serving
            log.warning("cannot record this server in the store: %s", exc)
            return False
        self._written = (now, models)
        return True

    def leave(self) -> None:
        """Delete the record (a clean stop)."""
        if self._written is None:
            return
        try:
            current_store().servers.remove(self.server_id)
        except Exception as exc:  # noqa: BLE001 - it shows as gone after a few heartbeats
            log.warning("cannot remove this server from the store: %s", exc)
        self._written = None


def seen(now: float | None = None) -> list[dict[str, Any]]:
    """Every server recorded in the store, with ``status`` (``live`` or ``gone``) and its
    ``models`` (name -> ref, version, rollout, problem), oldest first."""
    now = time.time() if now is None else now
    out = []
    for row in current_store().servers.list():
        gone = now - float(row["last_seen"]) > GONE_AFTER * float(row["heartbeat_s"])
        out.append(
            {**row, "status": "gone" if gone else "live", "models": json.loads(row["models"])}
        )
    return out


def servers(now: float | None = None) -> pd.DataFrame:
    """The model servers seen: one row per server and model it serves.

    Columns: ``server`` (its id), ``status`` (``live``, or ``gone`` when it missed three
    heartbeats without stopping cleanly), ``url``, ``host``, ``pid``, ``name``, ``ref``,
    ``version`` (the champion it answers with; missing while loading), ``rollout``,
    ``mode``, ``candidate`` and ``share`` (the rollout it routes by, if any), ``problem``,
    ``started_at``, ``last_seen``.

    >>> import nbmlops
    >>> nbmlops.servers()[["url", "status", "name", "version"]]  # doctest: +SKIP
                         url status   name  version
    0  http://127.0.0.1:5000   live  churn        3
    """
    import pandas as pd

    rows = []
    for server in seen(now):
        for name, entry in server["models"].items():
            rollout = entry.get("rollout") or {}
            rows.append(
                {
                    "server": server["id"],
                    "status": server["status"],
                    "url": server["url"],
                    "host": server["host"],
                    "pid": server["pid"],
                    "name": name,
                    "ref": entry.get("ref"),
                    "version": entry.get("version"),
                    "rollout": rollout.get("id"),
                    "mode": rollout.get("mode"),
                    "candidate": rollout.get("candidate"),
                    "share": rollout.get("share"),
                    "problem": entry.get("problem"),
                    "started_at": server["started_at"],
                    "last_seen": server["last_seen"],
                }
            )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("version", "rollout", "candidate", "pid"):
        frame[column] = frame[column].astype("Int64")
    frame["share"] = frame["share"].astype(float)
    for column in ("started_at", "last_seen"):
        frame[column] = pd.to_datetime(frame[column].astype(float), unit="s", utc=True)
    return frame
