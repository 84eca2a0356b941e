"""What a server needs to know of a rollout to route a request: the arms, the candidate's
share and the sticky split by key. Read from the store's rollout row; routing never writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

MODES = ("shadow", "canary", "ab")
BUCKETS = 10_000  # the split is in hundredths of a percent

CHAMPION, CANDIDATE, SHADOW = "champion", "candidate", "shadow"


@dataclass(frozen=True)
class RolloutPlan:
    """A rollout as routing sees it (``share``: percent of keys sent to the candidate)."""

    rollout_id: int
    name: str
    candidate: int
    mode: str
    share: float
    key: str | None
    status: str

    @property
    def active(self) -> bool:
        return self.status == "running"

    @classmethod
    def from_row(cls, row: dict) -> RolloutPlan:
        return cls(
            rollout_id=int(row["id"]),
            name=row["name"],
            candidate=int(row["candidate"]),
            mode=row["mode"],
            share=float(row["share"]),
            key=row["key"],
            status=row["status"],
        )

    def to_candidate(self, frame: pd.DataFrame, request_id: str) -> Any:
        """A boolean array: True for the rows the candidate answers (canary, ab).

        Rows are split by a stable hash of the ``key`` column (salted with the rollout id, so
        two rollouts split differently), so one entity always gets the same arm on every server;
        a request without the key column is split by its request id.
        """
        import numpy as np

        if self.mode == "shadow" or self.share <= 0:
            return np.zeros(len(frame), dtype=bool)
        if self.share >= 100:
            return np.ones(len(frame), dtype=bool)
        if self.key is not None and self.key in frame.columns:
            keys = frame[self.key].astype(str).to_numpy()
        else:
            keys = np.full(len(frame), request_id, dtype=object)
        return bucket_of(keys, self.rollout_id) < int(round(self.share * BUCKETS / 100))


def bucket_of(keys: Any, salt: int) -> Any:
    """The bucket in ``[0, BUCKETS)`` of each key (stable across processes and machines)."""
    import numpy as np
    import pandas as pd

    salted = pd.Series(keys, dtype=object).astype(str).radd(f"{salt}:")
    hashed = pd.util.hash_pandas_object(salted, index=False).to_numpy()
    return (hashed % np.uint64(BUCKETS)).astype(np.int64)
