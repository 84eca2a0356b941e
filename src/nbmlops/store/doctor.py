"""Health checks of a workspace, for ``nbmlops doctor``.

The database: SQLite's ``PRAGMA quick_check`` (and, when it finds damage, which tables cannot
be read); PostgreSQL's reachability and round-trip latency. The artifacts: a sample (or all)
of the blobs rows refer to, read back and checked against their sha256.
"""

from __future__ import annotations

import random
import re
import statistics
import time
from dataclasses import dataclass, field

from sqlalchemy import select, text

from ..errors import StoreError
from . import _schema as t
from ._engine import describe, is_sqlite, read_transaction
from .faults import reason_of

DEFAULT_SAMPLE = 50


@dataclass
class Finding:
    """The outcome of one check: ``ok``, a one-line ``summary`` and ``details`` lines."""

    check: str
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)


def check_database(engine) -> Finding:
    """``PRAGMA quick_check`` on SQLite; reachability and latency on PostgreSQL."""
    if is_sqlite(engine):
        return _check_sqlite(engine)
    return _check_server(engine)


def _check_sqlite(engine) -> Finding:
    started = time.perf_counter()
    try:
        with read_transaction(engine) as conn:
            lines = [str(r) for r in conn.exec_driver_sql("PRAGMA quick_check").scalars()]
    except StoreError as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        lines = [f"quick_check stopped: {reason_of(cause)}"]
    took = time.perf_counter() - started
    if lines == ["ok"]:
        return Finding("database", True, f"SQLite quick_check ok ({took:.2f} s)")
    details = lines[:10]
    damaged = _unreadable_tables(engine)
    if damaged:
        details.append("tables that cannot be read: " + ", ".join(damaged))
    return Finding(
        "database",
        False,
        f"SQLite quick_check found damage in {describe(engine)}: restore nbmlops.db from a "
        "backup, or salvage it with `sqlite3 nbmlops.db .recover | sqlite3 recovered.db`",
        details,
    )


def _unreadable_tables(engine) -> list[str]:
    """The tables a full scan fails on (``quick_check`` names pages, not tables)."""
    bad = []
    for table in t.metadata.sorted_tables:
        try:
            with read_transaction(engine) as conn:
                # NOT INDEXED: count(*) would otherwise read the smallest index instead of
                # the table's own pages, and miss damage there.
                conn.execute(text(f'SELECT count(*) FROM "{table.name}" NOT INDEXED')).scalar()
        except StoreError:
            bad.append(table.name)
    return bad


def _check_server(engine) -> Finding:
    timings = []
    try:
        with read_transaction(engine) as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            for _ in range(5):
                started = time.perf_counter()
                conn.exec_driver_sql("SELECT 1").scalar()
                timings.append((time.perf_counter() - started) * 1000)
    except StoreError as exc:
        return Finding("database", False, str(exc))
    latency = statistics.median(timings)
    summary = f"PostgreSQL {version} reachable, round trip {latency:.1f} ms (median of 5)"
    if latency > 100:
        return Finding(
            "database",
            False,
            summary + ": slow; every tracked call pays it, use a closer server",
        )
    return Finding("database", True, summary)


def artifact_references(engine) -> dict[str, list[str]]:
    """Each stored digest and what uses it ("run 1a2b3c4d artifact 'model.pkl'", …)."""
    uses: dict[str, list[str]] = {}

    def add(digest: str | None, label: str) -> None:
        if digest:
            uses.setdefault(digest, []).append(label)

    with read_transaction(engine) as conn:
        for run_id, name, digest in conn.execute(
            select(t.artifacts.c.run_id, t.artifacts.c.name, t.artifacts.c.digest)
        ):
            add(digest, f"run {run_id[:8]} artifact {name!r}")
        for env_id, digest in conn.execute(
            select(t.environments.c.env_id, t.environments.c.packages_digest)
        ):
            add(digest, f"environment {env_id[:8]} package list")
        for name, version, digest in conn.execute(
            select(t.model_versions.c.name, t.model_versions.c.version, t.model_versions.c.digest)
        ):
            add(digest, f"model {name} v{version}")
        for report_id, json_digest, html_digest in conn.execute(
            select(
                t.drift_reports.c.report_id,
                t.drift_reports.c.json_digest,
                t.drift_reports.c.html_digest,
            )
        ):
            add(json_digest, f"drift report {report_id[:8]} (JSON)")
            add(html_digest, f"drift report {report_id[:8]} (HTML)")
        for name, version, digest in conn.execute(
            select(
                t.model_references.c.name,
                t.model_references.c.version,
                t.model_references.c.digest,
            )
        ):
            add(digest, f"reference data of model {name} v{version}")
        for name, definition in conn.execute(select(t.monitors.c.name, t.monitors.c.definition)):
            for digest in set(re.findall(r'"reference_digest":\s*"([0-9a-f]{64})"', definition)):
                add(digest, f"reference data of monitor {name}")
    return uses


def check_artifacts(store, sample: int | None = DEFAULT_SAMPLE) -> Finding:
    """Read back ``sample`` of the referenced blobs (all when None) and check their sha256."""
    try:
        uses = artifact_references(store.meta.engine)
    except StoreError as exc:
        return Finding("artifacts", False, f"cannot list the stored artifacts: {exc}")
    digests = sorted(uses)
    if not digests:
        return Finding("artifacts", True, "no stored blobs yet")
    chosen = digests if sample is None or sample >= len(digests) else random.sample(digests, sample)
    problems = []
    for digest in chosen:
        state = store.artifacts.verify(digest)
        if state != "ok":
            used_by = "; ".join(uses[digest][:3]) + (" …" if len(uses[digest]) > 3 else "")
            problems.append(f"{state}: sha256 {digest[:16]}… used by {used_by}")
    scope = (
        f"all {len(digests)} stored blobs"
        if len(chosen) == len(digests) != 1
        else "the 1 stored blob"
        if len(digests) == 1
        else f"{len(chosen)} of {len(digests)} stored blobs (a sample; --full checks all)"
    )
    if not problems:
        return Finding("artifacts", True, f"{scope} match their sha256")
    return Finding(
        "artifacts",
        False,
        f"{len(problems)} of {scope} are missing or damaged under {store.artifacts.root}: "
        "re-log each from its source (a re-log of the right bytes repairs the stored copy), "
        "or restore the artifact folder from a backup",
        problems,
    )
