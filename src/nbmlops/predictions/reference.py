"""Reference data of a model version: the training inputs its logged traffic is compared with.

Recorded by ``register_model(..., reference=X_train)`` (or ``set_reference`` later) as one
content-addressed Parquet artifact, with redacted columns (the ``log_redact`` setting) left out.
Models are named by name and version number here; resolving ``models:/`` URIs is the
registry's job.
"""

from __future__ import annotations

import io
import json
import time
from typing import TYPE_CHECKING, Any

from ..config import get_settings
from ..errors import MonitoringError
from ..store import get_store

if TYPE_CHECKING:
    import pandas as pd

MAX_ROWS = 100_000


def reference_parquet(frame: Any) -> tuple[bytes, list[str], int]:
    """``(parquet bytes, columns, rows)`` of ``frame`` as stored: redacted columns dropped and
    at most :data:`MAX_ROWS` rows (a fixed random sample)."""
    import pandas as pd

    from .log import RESERVED, redacted_columns

    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise MonitoringError(
            "a reference is a non-empty DataFrame of training inputs, got "
            + (type(frame).__name__ if not isinstance(frame, pd.DataFrame) else "an empty one")
        )
    frame = frame.rename(columns=str)
    redacted = redacted_columns()
    kept = frame[[c for c in frame.columns if c not in redacted and c not in RESERVED]]
    if len(kept) > MAX_ROWS:
        kept = kept.sample(MAX_ROWS, random_state=0)
    buffer = io.BytesIO()
    kept.reset_index(drop=True).to_parquet(buffer, index=False)
    return buffer.getvalue(), list(kept.columns), len(kept)


def record_reference(name: str, version: int, frame: Any) -> None:
    """Record ``frame`` as the reference data of version ``version`` of model ``name``."""
    data, columns, rows = reference_parquet(frame)
    store = get_store(get_settings())
    digest, _size = store.artifacts.put_bytes(data)
    store.predictions.set_reference(
        {
            "name": name,
            "version": version,
            "digest": digest,
            "rows": rows,
            "columns": json.dumps(columns),
            "created_at": time.time(),
        }
    )


def reference_digest(frame: Any) -> str:
    """Store ``frame`` as a reference artifact without tying it to a version; return its digest."""
    data, _columns, _rows = reference_parquet(frame)
    return get_store(get_settings()).artifacts.put_bytes(data)[0]


def load_reference(
    name: str | None = None, version: int | None = None, digest: str | None = None
) -> pd.DataFrame | None:
    """The reference of version ``version`` of model ``name`` (None when none was recorded),
    or the artifact ``digest``."""
    import pandas as pd

    store = get_store(get_settings())
    if digest is None:
        row = store.predictions.reference(name, version)
        if row is None:
            return None
        digest = row["digest"]
    data = store.artifacts.get_bytes(digest, "reference data")
    return pd.read_parquet(io.BytesIO(data))
