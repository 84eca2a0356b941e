"""The audit log of the registry as users see it: ``audit_log`` (a DataFrame),
``verify_audit`` (is the hash chain intact, and if not, which row broke first) and
``export_audit`` (JSON Lines or CSV for auditors). The chain itself is kept by
:mod:`nbmlops.store.audit`."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _args
from ..display import html as h
from ..errors import InvalidArgument
from ._context import current_store
from ._names import model_name

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AuditVerification", "audit_log", "export_audit", "verify_audit"]

COLUMNS = ["seq", "at", "kind", "subject", "actor", "payload", "prev_hash", "hash"]


def _rows(model: str | None, kind: str | None) -> list[dict]:
    kind = _args.text(kind, "audit_log(kind=...)", optional=True)
    return current_store().audit.events(
        kind=kind, model=None if model is None else model_name(model)
    )


def audit_log(model: str | None = None, kind: str | None = None) -> pd.DataFrame:
    """The audit log, oldest first: ``seq, at, kind, subject, actor, payload, prev_hash,
    hash``. ``model`` keeps the events of one model name; ``kind`` a kind prefix
    (``"model."``, ``"request."``, ``"policy."``, ``"rollout."``).

    >>> import nbmlops
    >>> nbmlops.audit_log("churn", kind="request.")  # doctest: +SKIP
    """
    import pandas as pd

    rows = _rows(model, kind)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"].astype(float), unit="s", utc=True)
    frame["payload"] = pd.Series(
        [json.loads(p) for p in frame["payload"]], index=frame.index, dtype=object
    )
    return frame


@dataclass(frozen=True)
class AuditVerification:
    """The result of :func:`verify_audit`. ``ok`` is True when every row is intact; else
    ``first_problem`` is ``{"seq", "problem", "message"}`` with ``problem`` one of
    ``changed``, ``removed``, ``reordered``."""

    ok: bool
    rows: int
    head_seq: int | None
    head_hash: str | None
    first_problem: dict | None

    def __bool__(self) -> bool:
        return self.ok

    @property
    def message(self) -> str:
        if self.ok:
            return f"audit log intact: {self.rows} rows, head {self.head_seq} {self.head_hash}"
        return f"audit log BROKEN: {self.first_problem['message']}"

    def __repr__(self) -> str:
        return f"<AuditVerification {self.message}>"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        return f'<div style="color:{colour}">{h.esc(self.message)}</div>'


def verify_audit() -> AuditVerification:
    """Check the audit log's hash chain; the result names the first changed, removed or
    reordered row (``first_problem``), or is ``ok``.

    >>> import nbmlops
    >>> assert nbmlops.verify_audit().ok  # doctest: +SKIP
    """
    return AuditVerification(**current_store().audit.verify())


def export_audit(path: str | Path, format: str | None = None, model: str | None = None) -> Path:
    """Write the audit log to ``path`` as JSON Lines (``.jsonl``) or CSV (``.csv``), each
    row with its ``prev_hash`` and ``hash`` so an auditor can re-check the chain; return the
    path. ``format`` (``"jsonl"``, ``"csv"``) overrides the file's suffix."""
    path = _args.path(path, "export_audit(path=...)")
    format = _args.text(format, "export_audit(format=...)", optional=True)
    fmt = format or {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv"}.get(path.suffix.lower())
    if fmt not in ("jsonl", "csv"):
        raise InvalidArgument(
            "export_audit(path=...)",
            f"cannot tell the export format of {str(path)!r}: name it *.jsonl or *.csv, or pass "
            "format='jsonl' or format='csv'",
        )
    rows = _rows(model, None)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        if fmt == "jsonl":
            for row in rows:
                out.write(json.dumps(_export_row(row), ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: row[k] for k in COLUMNS})
    tmp.replace(path)  # never a half-written file under the final name
    return path


def _export_row(row: dict[str, Any]) -> dict[str, Any]:
    # payload stays the exact stored text: it is what the hash covers.
    return {k: row[k] for k in COLUMNS}
