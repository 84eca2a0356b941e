"""The tamper-evident audit log: registry, alias, policy, approval and rollout events, each
appended in the transaction of the change it records and chained to the previous one by hash.

Row ``n`` stores ``hash = sha256(canonical JSON of {seq, at, kind, subject, actor, payload,
prev_hash})`` where ``prev_hash`` is row ``n-1``'s hash (64 zeros for the first row). The
single ``audit_head`` row holds the last ``seq`` and hash; appenders lock it, so two writers
never fork the chain, and it anchors the end, so removing the last row shows as well.
:func:`verify` walks the chain and names the first row that was changed, removed or moved.

Other modules append with :func:`append` inside their own write transaction (so an event
exists exactly when its change does), or with :meth:`AuditRecords.record` in a transaction
of its own.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection

from ..errors import InvalidArgument, StoreCorrupted
from . import _schema as t
from ._engine import read_transaction

GENESIS = "0" * 64
_FIELDS = ("seq", "at", "kind", "subject", "actor", "payload", "prev_hash")


def _plain(value: Any) -> Any:
    """``value`` as JSON-safe plain data: NaN and infinities become None, tuples lists,
    numpy scalars Python numbers, anything else its string."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return _plain(item())
        except (TypeError, ValueError):
            pass
    return str(value)


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(row: dict) -> str:
    """The sha256 (hex) of one event row's fields and the hash it chains to."""
    body = {f: row[f] for f in _FIELDS}
    body["seq"] = int(body["seq"])
    body["at"] = float(body["at"])
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def _check_text(field: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise InvalidArgument(
            f"an audit event's {field} is a non-empty string of at most {limit} characters "
            f"without NUL, got {value!r:.80}"
        )
    return value


def append(
    conn: Connection,
    kind: str,
    subject: str,
    payload: dict | None = None,
    actor: str | None = None,
) -> int:
    """Append one event inside the caller's write transaction; return its ``seq``.

    ``kind`` says what happened (``model.promote``, ``rollout.start`` …), ``subject`` what it
    happened to (``models:/churn/3``), ``payload`` the details, ``actor`` who did it.
    """
    kind = _check_text("kind", kind, 64)
    subject = _check_text("subject", subject, 512)
    if payload is not None and not isinstance(payload, dict):
        raise InvalidArgument(f"an audit event's payload is a dict, got {type(payload).__name__}")
    head = conn.execute(
        select(t.audit_head.c.seq, t.audit_head.c.hash)
        .where(t.audit_head.c.id == 1)
        .with_for_update()
    ).first()
    if head is None:
        raise StoreCorrupted(
            "the audit log's head row (table audit_head) is missing, so no event can be "
            "chained; the log was tampered with: run `nbmlops audit verify` and restore the "
            "store from a backup"
        )
    row = {
        "seq": int(head.seq) + 1,
        "at": time.time(),
        "kind": kind,
        "subject": subject,
        "actor": actor,
        "payload": canonical(_plain(payload or {})),
        "prev_hash": head.hash,
    }
    row["hash"] = event_hash(row)
    conn.execute(t.audit_events.insert().values(**row))
    conn.execute(
        update(t.audit_head).where(t.audit_head.c.id == 1).values(seq=row["seq"], hash=row["hash"])
    )
    return row["seq"]


def _problem(seq: int | None, kind: str, message: str) -> dict:
    return {"seq": seq, "problem": kind, "message": message}


def check_chain(rows: Iterator[dict], head: dict | None) -> dict:
    """Walk ``rows`` (ordered by seq) and the head; return ``{"ok", "rows", "head_seq",
    "head_hash", "first_problem"}`` where ``first_problem`` names the first broken row."""
    rows = list(rows)
    by_hash = {r["hash"]: r["seq"] for r in rows}
    expected_seq, expected_prev = 1, GENESIS
    problem = None
    for row in rows:
        seq = int(row["seq"])
        if seq != expected_seq:
            if seq > expected_seq:
                gone = (
                    f"row {expected_seq}"
                    if seq == expected_seq + 1
                    else (f"rows {expected_seq} to {seq - 1}")
                )
                problem = _problem(expected_seq, "removed", f"{gone} of the audit log was removed")
            else:
                problem = _problem(seq, "reordered", f"row {seq} appears twice or out of order")
            break
        if row["prev_hash"] != expected_prev:
            earlier = by_hash.get(row["prev_hash"])
            if earlier is not None and earlier != seq - 1:
                problem = _problem(
                    seq,
                    "reordered",
                    f"row {seq} is out of order: it was written right after the row now at "
                    f"position {earlier}",
                )
            else:
                problem = _problem(
                    seq - 1 if seq > 1 else seq,
                    "changed",
                    f"row {seq - 1 if seq > 1 else seq} was changed: row {seq} was chained to "
                    "another hash",
                )
            break
        if event_hash(row) != row["hash"]:
            problem = _problem(
                seq, "changed", f"row {seq} was changed: its content no longer matches its hash"
            )
            break
        expected_seq, expected_prev = seq + 1, row["hash"]
    if problem is None:
        if head is None:
            problem = _problem(None, "removed", "the head row of the audit log was removed")
        elif int(head["seq"]) != expected_seq - 1 or head["hash"] != expected_prev:
            if int(head["seq"]) > expected_seq - 1:
                problem = _problem(
                    expected_seq,
                    "removed",
                    f"the last rows of the audit log were removed (it ends at row "
                    f"{expected_seq - 1}, its head says {head['seq']})",
                )
            else:
                problem = _problem(
                    int(head["seq"]),
                    "changed",
                    f"the audit log's head (row {head['seq']}) does not match its last row "
                    f"{expected_seq - 1}",
                )
    return {
        "ok": problem is None,
        "rows": len(rows),
        "head_seq": None if head is None else int(head["seq"]),
        "head_hash": None if head is None else head["hash"],
        "first_problem": problem,
    }


class AuditRecords:
    """The audit tables of one metadata store."""

    def __init__(self, meta) -> None:
        self.meta = meta
        self.engine = meta.engine

    def record(
        self, kind: str, subject: str, payload: dict | None = None, actor: str | None = None
    ) -> int:
        """Append one event in a transaction of its own; return its ``seq``."""
        return self.meta._write(lambda conn: append(conn, kind, subject, payload, actor))

    def events(
        self,
        kind: str | None = None,
        subject: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        model: str | None = None,
    ) -> list[dict]:
        """Events in chain order; ``kind`` and ``subject`` match a prefix (``model.``,
        ``models:/churn/3``), ``model`` every event of that model name."""
        c = t.audit_events.c
        query = select(t.audit_events).order_by(c.seq)
        if kind:
            query = query.where(c.kind.startswith(kind, autoescape=True))
        if subject:
            query = query.where(c.subject.startswith(subject, autoescape=True))
        if model:
            query = query.where(
                or_(
                    c.subject == f"models:/{model}",
                    c.subject.startswith(f"models:/{model}/", autoescape=True),
                )
            )
        if since is not None:
            query = query.where(t.audit_events.c.seq > since)
        if limit is not None:
            query = query.limit(limit)
        with read_transaction(self.engine) as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def verify(self) -> dict:
        """Check the whole chain (see :func:`check_chain`)."""
        with read_transaction(self.engine) as conn:
            head = (
                conn.execute(select(t.audit_head).where(t.audit_head.c.id == 1)).mappings().first()
            )
            rows = conn.execute(select(t.audit_events).order_by(t.audit_events.c.seq)).mappings()
            return check_chain((dict(r) for r in rows), None if head is None else dict(head))
