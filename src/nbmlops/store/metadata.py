"""Reads and writes of run metadata: every write is one short transaction.

This module speaks rows and plain Python values; validation and the user-facing objects live
in :mod:`nbmlops.tracking`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Integer, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from ..errors import AmbiguousRunId, ExperimentNotFound, InvalidParam, RunNotFound
from . import _schema as t
from . import run_keys
from ._engine import (
    describe,
    make_engine,
    read_transaction,
    run_with_retry,
    try_write,
    write_transaction,
)
from .artifacts import check_no_clash
from .migrations import upgrade

TERMINAL = ("FINISHED", "FAILED", "KILLED")
KILLED_REASON = (
    "the process running this run stopped sending heartbeats (kernel restarted, killed or "
    "crashed); metrics flushed before that are kept"
)


def _dialect_insert(conn: Connection, table):
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"nbmlops supports SQLite and PostgreSQL stores, not {name}")
    return dialect_insert(table)


_upsert_cache: dict[tuple, Any] = {}


def _upsert(conn: Connection, table, rows: list[dict], keys: Sequence[str], where=None) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE; ``where(stmt)`` limits which rows update.

    The statement is built once per shape and reused: building it costs more than running it.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    shape = (conn.dialect.name, table.name, columns, tuple(keys), where)
    stmt = _upsert_cache.get(shape)
    if stmt is None:
        stmt = _dialect_insert(conn, table)
        values = {c: stmt.excluded[c] for c in columns if c not in keys}
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_=values, where=where(stmt) if where else None
        )
        _upsert_cache[shape] = stmt
    conn.execute(stmt, rows)


# Statements built once: SQLAlchemy then reuses their compiled form on every call.
_INSERT_RUN = insert(t.runs)
_INSERT_TAGS = insert(t.tags)
_INSERT_PARAMS = insert(t.params)
_INSERT_METRICS = insert(t.metrics)
_PARAMS_OF_RUN = select(t.params.c.key, t.params.c.value).where(
    t.params.c.run_id == bindparam("_run_id")
)
_EXPERIMENT_ID = select(t.experiments.c.experiment_id).where(
    t.experiments.c.name == bindparam("_name")
)
_FINISH_RUN = (
    update(t.runs)
    .where(t.runs.c.run_id == bindparam("_run_id"))
    .values(
        status=bindparam("_status"),
        end_time=bindparam("_end_time"),
        heartbeat_at=bindparam("_end_time"),
        error=func.coalesce(bindparam("_error", type_=t.runs.c.error.type), t.runs.c.error),
    )
)


def _latest_is_newer(stmt):
    # Keep the value with the greatest (step, timestamp), as histories are shown.
    return or_(
        stmt.excluded.step > t.latest_metrics.c.step,
        and_(
            stmt.excluded.step == t.latest_metrics.c.step,
            stmt.excluded.timestamp >= t.latest_metrics.c.timestamp,
        ),
    )


_KIND_OF = {"params": "params", "latest_metrics": "metrics", "tags": "tags"}


_neighbour_queries: dict[tuple[str, int, int], Any] = {}


def _neighbour_query(dialect: str, parents: int, count: int):
    """The clash lookup for ``count`` names, built once per shape with bound parameters, so
    SQLAlchemy reuses its compiled form (building it anew cost ~1 ms per logged artifact)."""
    shape = (dialect, parents, count)
    query = _neighbour_queries.get(shape)
    if query is None:
        a = t.artifacts.c
        conds = [a.name.in_([bindparam(f"_p{j}") for j in range(parents)])] if parents else []
        for i in range(count):
            if dialect == "sqlite":
                # Binary collation: the names inside "name/" sort between "name/" and "name0".
                conds.append(and_(a.name >= bindparam(f"_lo{i}"), a.name < bindparam(f"_hi{i}")))
            else:  # a database collation may not sort bytewise: compare the prefix exactly
                conds.append(
                    func.substr(a.name, 1, bindparam(f"_len{i}", type_=Integer))
                    == bindparam(f"_lo{i}")
                )
        query = select(a.name).where(a.run_id == bindparam("_run_id"), or_(*conds))
        _neighbour_queries[shape] = query
    return query


def _neighbours(conn: Connection, run_id: str, names: Sequence[str]) -> list[str]:
    """The run's artifacts that new ``names`` could clash with: their parent folders as
    files, and files inside them as folders. An index lookup per name, whatever the number
    of artifacts the run already has."""
    found: list[str] = []
    names = list(names)
    dialect = conn.dialect.name
    for start in range(0, len(names), 200):  # keeps each statement's expression small
        chunk = names[start : start + 200]
        parents = {"/".join(n.split("/")[:i]) for n in chunk for i in range(1, n.count("/") + 1)}
        values: dict[str, Any] = {"_run_id": run_id}
        for j, parent in enumerate(sorted(parents)):
            values[f"_p{j}"] = parent
        for i, name in enumerate(chunk):
            values[f"_lo{i}"] = name + "/"
            if dialect == "sqlite":
                values[f"_hi{i}"] = name + "0"
            else:
                values[f"_len{i}"] = len(name) + 1
        query = _neighbour_query(dialect, len(parents), len(chunk))
        found += conn.execute(query, values).scalars().all()
    return found


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else value


class MetadataStore:
    """The metadata of experiments and runs, in SQLite or PostgreSQL."""

    def __init__(self, url: str, **timeouts: float):
        """Open (and if needed upgrade) the store at ``url``; ``timeouts`` are the keyword
        arguments of :func:`~nbmlops.store._engine.make_engine` (``connect_timeout_s``,
        ``statement_timeout_s``, ``busy_timeout_s``)."""
        self.url = url
        self.engine: Engine = make_engine(url, **timeouts)
        try:
            # The first statement is where a wrong host, port, password or database, a
            # server that never answers or a damaged file shows up (as a StoreError).
            upgrade(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"MetadataStore({describe(self.engine)!r})"

    # -- writes -------------------------------------------------------------------------------

    def _write(self, fn):
        def attempt():
            with write_transaction(self.engine) as conn:
                return fn(conn)

        return run_with_retry(attempt, engine=self.engine)

    def _experiment_id(self, conn: Connection, name: str, create: bool) -> int:
        found = conn.execute(_EXPERIMENT_ID, {"_name": name}).scalar()
        if found is not None:
            return int(found)
        if not create:
            raise ExperimentNotFound(
                f"no experiment named {name!r}; list them with nbmlops.experiments()"
            )
        if conn.dialect.name == "postgresql":
            stmt = _dialect_insert(conn, t.experiments).values(name=name, created_at=time.time())
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        else:  # BEGIN IMMEDIATE already serializes SQLite writers
            conn.execute(insert(t.experiments).values(name=name, created_at=time.time()))
        return int(
            conn.execute(
                select(t.experiments.c.experiment_id).where(t.experiments.c.name == name)
            ).scalar_one()
        )

    def ensure_environment(self, row: dict) -> None:
        def fn(conn):
            exists = conn.execute(
                select(t.environments.c.env_id).where(t.environments.c.env_id == row["env_id"])
            ).scalar()
            if exists is None:
                stmt = _dialect_insert(conn, t.environments).values(**row)
                conn.execute(stmt.on_conflict_do_nothing(index_elements=["env_id"]))

        self._write(fn)

    def create_run(
        self,
        row: dict,
        experiment: str,
        tags: dict[str, str] | None = None,
        artifacts: Sequence[dict] = (),
    ) -> None:
        """Insert a RUNNING run (and its experiment when new) in one transaction, with the
        ``artifacts`` rows it starts with (their blobs already stored)."""

        def fn(conn):
            experiment_id = self._experiment_id(conn, experiment, create=True)
            conn.execute(_INSERT_RUN, {**row, "experiment_id": experiment_id})
            if tags:
                conn.execute(
                    _INSERT_TAGS,
                    [{"run_id": row["run_id"], "key": k, "value": v} for k, v in tags.items()],
                )
                run_keys.note_keys(conn, "tags", ((row["run_id"], k) for k in tags))
            if artifacts:
                names = [a["name"] for a in artifacts]
                check_no_clash([], names)
                conn.execute(
                    insert(t.artifacts), [{**a, "run_id": row["run_id"]} for a in artifacts]
                )

        self._write(fn)

    def update_run(self, run_id: str, **values: Any) -> None:
        self._write(
            lambda conn: conn.execute(
                update(t.runs).where(t.runs.c.run_id == run_id).values(**values)
            )
        )

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        """Insert JSON-encoded params; re-logging a key with a different value is an error."""

        def fn(conn):
            existing = dict(conn.execute(_PARAMS_OF_RUN, {"_run_id": run_id}).all())
            for key, value in params.items():
                if key in existing and existing[key] != value:
                    raise InvalidParam(
                        key,
                        json.loads(value),
                        f"the run already has {key} = {json.loads(existing[key])!r}; params "
                        "cannot change within a run (log a metric or start a new run)",
                    )
            new = [
                {"run_id": run_id, "key": k, "value": v}
                for k, v in params.items()
                if k not in existing
            ]
            if new:
                conn.execute(_INSERT_PARAMS, new)
                run_keys.note_keys(conn, "params", ((run_id, r["key"]) for r in new))

        self._write(fn)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        rows = [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]

        def fn(conn):
            _upsert(conn, t.tags, rows, ["run_id", "key"])
            run_keys.note_keys(conn, "tags", ((run_id, k) for k in tags))

        self._write(fn)

    @staticmethod
    def _write_metrics(conn: Connection, rows: list[tuple[str, str, float, int, float]]) -> None:
        if not rows:
            return
        conn.execute(
            _INSERT_METRICS,
            [
                {"run_id": r, "key": k, "value": _nan_to_none(v), "step": s, "timestamp": ts}
                for r, k, v, s, ts in rows
            ],
        )
        latest: dict[tuple[str, str], tuple[str, str, float, int, float]] = {}
        for row in rows:
            ident = (row[0], row[1])
            seen = latest.get(ident)
            if seen is None or (row[3], row[4]) >= (seen[3], seen[4]):
                latest[ident] = row
        _upsert(
            conn,
            t.latest_metrics,
            [
                {"run_id": r, "key": k, "value": _nan_to_none(v), "step": s, "timestamp": ts}
                for r, k, v, s, ts in latest.values()
            ],
            ["run_id", "key"],
            where=_latest_is_newer,
        )
        run_keys.note_keys(conn, "metrics", latest)

    def log_metrics(self, rows: list[tuple[str, str, float, int, float]]) -> None:
        """Append ``(run_id, key, value, step, timestamp)`` rows in one transaction."""
        self._write(lambda conn: self._write_metrics(conn, rows))

    def finish_run(
        self,
        run_id: str,
        status: str,
        end_time: float,
        metric_rows: list[tuple[str, str, float, int, float]],
        error: str | None = None,
    ) -> None:
        """Write the last metrics and the final status together."""

        def fn(conn):
            self._write_metrics(conn, metric_rows)
            conn.execute(
                _FINISH_RUN,
                {"_run_id": run_id, "_status": status, "_end_time": end_time, "_error": error},
            )

        self._write(fn)

    def add_artifacts(
        self, run_id: str, rows: list[dict], store_content: Callable[[], None] | None = None
    ) -> None:
        """Record artifacts; a name that would make a file also a folder writes nothing.

        ``store_content()`` (which fills the rows' ``digest`` and ``size``) runs after the
        names are checked and before the rows commit, in the same transaction: a refused
        name stores no content, and no reader sees a row before its content exists. It may
        run again if the transaction is retried (storing content is idempotent)."""
        for row in rows:
            row["run_id"] = run_id

        def fn(conn):
            names = [r["name"] for r in rows]
            check_no_clash(_neighbours(conn, run_id, names), names)
            if store_content is not None:
                store_content()
            _upsert(conn, t.artifacts, rows, ["run_id", "name"])

        self._write(fn)

    def check_artifact_names(self, run_id: str, names: Sequence[str]) -> None:
        """Raise ``InvalidArtifactName`` if ``names`` would clash with the run's artifacts,
        reading only the artifacts that could clash (not all of the run's)."""
        with read_transaction(self.engine) as conn:
            check_no_clash(_neighbours(conn, run_id, names), names)

    def artifact_names(self, run_id: str) -> list[str]:
        with read_transaction(self.engine) as conn:
            return list(
                conn.execute(
                    select(t.artifacts.c.name).where(t.artifacts.c.run_id == run_id)
                ).scalars()
            )

    def add_data_io(self, run_id: str, rows: list[dict]) -> None:
        for row in rows:
            row["run_id"] = run_id
        self._write(lambda conn: _upsert(conn, t.data_io, rows, ["run_id", "direction", "name"]))

    def heartbeat(self, run_ids: Iterable[str], now: float) -> None:
        """Refresh the heartbeat of live runs; revive any a reader wrongly marked KILLED."""
        ids = list(run_ids)
        if not ids:
            return

        def fn(conn):
            conn.execute(
                update(t.runs)
                .where(t.runs.c.run_id.in_(ids), t.runs.c.status == "RUNNING")
                .values(heartbeat_at=now)
            )
            # A process that held the GIL past the stale timeout is alive after all.
            conn.execute(
                update(t.runs)
                .where(
                    t.runs.c.run_id.in_(ids),
                    t.runs.c.status == "KILLED",
                    t.runs.c.error == KILLED_REASON,
                )
                .values(status="RUNNING", heartbeat_at=now, end_time=None, error=None)
            )

        self._write(fn)

    def reap_stale(
        self, stale_after_s: float, now: float | None = None, lock_wait_s: float | None = None
    ) -> list[str]:
        """Mark RUNNING runs whose heartbeat is older than ``stale_after_s`` as KILLED.

        With ``lock_wait_s``, give up (returning ``[]``) when the store stays locked by
        another writer that long: a reader then never waits behind a long write, and a later
        read marks them.
        """
        cutoff = (now or time.time()) - stale_after_s
        stale = t.runs.c.status == "RUNNING", t.runs.c.heartbeat_at < cutoff
        with read_transaction(self.engine) as conn:
            found = conn.execute(select(t.runs.c.run_id).where(*stale)).scalars().all()
        if not found:
            return []

        def fn(conn):
            ids = conn.execute(select(t.runs.c.run_id).where(*stale)).scalars().all()
            if ids:
                conn.execute(
                    update(t.runs)
                    .where(t.runs.c.run_id.in_(ids))
                    .values(status="KILLED", end_time=t.runs.c.heartbeat_at, error=KILLED_REASON)
                )
            return list(ids)

        if lock_wait_s is not None:
            return try_write(self.engine, fn, lock_wait_s) or []
        return self._write(fn)

    def delete_run(self, run_id: str) -> None:
        """Remove a run and everything recorded for it (artifact blobs stay: shared content)."""

        def fn(conn):
            for table in (t.metrics, t.latest_metrics, t.params, t.tags, t.artifacts, t.data_io):
                conn.execute(delete(table).where(table.c.run_id == run_id))
            conn.execute(delete(t.runs).where(t.runs.c.run_id == run_id))

        self._write(fn)

    # -- reads --------------------------------------------------------------------------------

    def resolve_run_id(self, run_id: str) -> str:
        """Return the full id of the run ``run_id`` names (a unique prefix is enough)."""
        if not isinstance(run_id, str) or not run_id.strip():
            raise RunNotFound(str(run_id), f"run id must be a non-empty string, got {run_id!r}")
        run_id = run_id.strip().lower()
        if len(run_id) > t.RUN_ID_LEN or not all(c in "0123456789abcdef" for c in run_id):
            raise RunNotFound(run_id)
        with read_transaction(self.engine) as conn:
            if len(run_id) == t.RUN_ID_LEN:
                found = (
                    conn.execute(select(t.runs.c.run_id).where(t.runs.c.run_id == run_id))
                    .scalars()
                    .all()
                )
            else:
                found = (
                    conn.execute(
                        select(t.runs.c.run_id).where(t.runs.c.run_id.like(run_id + "%")).limit(6)
                    )
                    .scalars()
                    .all()
                )
        if not found:
            raise RunNotFound(run_id)
        if len(found) > 1:
            raise AmbiguousRunId(run_id, list(found))
        return found[0]

    def get_run(self, run_id: str) -> dict:
        with read_transaction(self.engine) as conn:
            row = (
                conn.execute(
                    select(t.runs, t.experiments.c.name.label("experiment"))
                    .join(t.experiments, t.experiments.c.experiment_id == t.runs.c.experiment_id)
                    .where(t.runs.c.run_id == run_id)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise RunNotFound(run_id)
        return dict(row)

    def metric_keys(self, run_id: str) -> set[str]:
        """The names of the metrics ``run_id`` has (one indexed read, no values)."""
        with read_transaction(self.engine) as conn:
            return set(
                conn.execute(
                    select(t.latest_metrics.c.key).where(t.latest_metrics.c.run_id == run_id)
                ).scalars()
            )

    def run_details(self, run_id: str) -> dict[str, Any]:
        """Params, tags, latest metrics, artifacts and data of one run, from one snapshot."""
        with read_transaction(self.engine) as conn:
            params = conn.execute(
                select(t.params.c.key, t.params.c.value).where(t.params.c.run_id == run_id)
            ).all()
            tags = conn.execute(
                select(t.tags.c.key, t.tags.c.value).where(t.tags.c.run_id == run_id)
            ).all()
            metrics = conn.execute(
                select(t.latest_metrics.c.key, t.latest_metrics.c.value).where(
                    t.latest_metrics.c.run_id == run_id
                )
            ).all()
            artifacts = (
                conn.execute(
                    select(t.artifacts)
                    .where(t.artifacts.c.run_id == run_id)
                    .order_by(t.artifacts.c.name)
                )
                .mappings()
                .all()
            )
            data = (
                conn.execute(
                    select(t.data_io)
                    .where(t.data_io.c.run_id == run_id)
                    .order_by(t.data_io.c.direction, t.data_io.c.created_at)
                )
                .mappings()
                .all()
            )
        return {
            "params": {k: json.loads(v) for k, v in sorted(params)},
            "tags": dict(sorted(tags)),
            "metrics": {k: (math.nan if v is None else v) for k, v in sorted(metrics)},
            "artifacts": [dict(a) for a in artifacts],
            "data": [dict(d) for d in data],
        }

    def runs_with_tags(
        self, tags: dict[str, str], status: str | None = None, limit: int | None = None
    ) -> list[dict]:
        """Runs carrying every tag of ``tags`` (exact values), newest first.

        Rows hold ``run_id, status, start_time, end_time``; ``status`` keeps only that status.
        """
        query = select(t.runs.c.run_id, t.runs.c.status, t.runs.c.start_time, t.runs.c.end_time)
        for i, (key, value) in enumerate(sorted(tags.items())):
            tag = t.tags.alias(f"tag{i}")
            query = query.join(
                tag, and_(tag.c.run_id == t.runs.c.run_id, tag.c.key == key, tag.c.value == value)
            )
        if status is not None:
            query = query.where(t.runs.c.status == status)
        query = query.order_by(t.runs.c.start_time.desc(), t.runs.c.run_id)
        if limit is not None:
            query = query.limit(limit)
        with read_transaction(self.engine) as conn:
            return [dict(r) for r in conn.execute(query).mappings().all()]

    def descendant_runs(self, run_id: str) -> list[dict]:
        """Every run nested under ``run_id`` (children, their children, …), oldest first.

        Rows hold ``run_id, parent_run_id, name, status, start_time, end_time``.
        """
        cols = (
            t.runs.c.run_id,
            t.runs.c.parent_run_id,
            t.runs.c.name,
            t.runs.c.status,
            t.runs.c.start_time,
            t.runs.c.end_time,
        )
        found: list[dict] = []
        frontier = [run_id]
        seen = {run_id}
        with read_transaction(self.engine) as conn:
            while frontier:
                rows = conn.execute(
                    select(*cols).where(t.runs.c.parent_run_id.in_(frontier))
                ).mappings()
                level = [dict(r) for r in rows if r["run_id"] not in seen]
                seen.update(r["run_id"] for r in level)
                found.extend(level)
                frontier = [r["run_id"] for r in level]
        found.sort(key=lambda r: (r["start_time"], r["run_id"]))
        return found

    def metric_history(self, run_id: str, key: str | None = None) -> list[tuple]:
        query = select(
            t.metrics.c.key, t.metrics.c.step, t.metrics.c.value, t.metrics.c.timestamp
        ).where(t.metrics.c.run_id == run_id)
        if key is not None:
            query = query.where(t.metrics.c.key == key)
        query = query.order_by(
            t.metrics.c.key, t.metrics.c.step, t.metrics.c.timestamp, t.metrics.c.id
        )
        with read_transaction(self.engine) as conn:
            return [tuple(r) for r in conn.execute(query).all()]

    def get_environment(self, env_id: str) -> dict | None:
        with read_transaction(self.engine) as conn:
            row = (
                conn.execute(select(t.environments).where(t.environments.c.env_id == env_id))
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def list_runs(
        self,
        experiment: str | None = None,
        run_ids: Sequence[str] | None = None,
        keys: dict[str, Sequence[str]] | None = None,
    ) -> dict[str, list]:
        """Rows of runs (with experiment names) and their params, latest metrics and tags.

        ``run_ids`` keeps only those runs; ``keys`` (``{"params": [...], "metrics": [...],
        "tags": [...]}``) reads only those keys, so a filter over one metric of 10,000 runs
        does not read every param and tag.
        """
        runs_q = select(
            t.runs.c.run_id,
            t.experiments.c.name.label("experiment"),
            t.runs.c.name,
            t.runs.c.status,
            t.runs.c.start_time,
            t.runs.c.end_time,
            t.runs.c.parent_run_id,
        ).join(t.experiments, t.experiments.c.experiment_id == t.runs.c.experiment_id)
        if experiment is not None:
            runs_q = runs_q.where(t.experiments.c.name == experiment)
        if run_ids is not None:
            runs_q = runs_q.where(t.runs.c.run_id.in_(list(run_ids)))
        ids = runs_q.with_only_columns(t.runs.c.run_id).scalar_subquery()
        narrowed = experiment is not None or run_ids is not None

        def of(table, *cols):
            query = select(table.c.run_id, *cols)
            if keys is not None:
                wanted = list(keys.get(_KIND_OF[table.name], ()))
                query = query.where(table.c.key.in_(wanted))
            return query.where(table.c.run_id.in_(ids)) if narrowed else query

        with read_transaction(self.engine) as conn:
            if experiment is not None:
                self._experiment_id(conn, experiment, create=False)
            return {
                "runs": [dict(r) for r in conn.execute(runs_q).mappings().all()],
                "params": conn.execute(of(t.params, t.params.c.key, t.params.c.value)).all(),
                "metrics": conn.execute(
                    of(t.latest_metrics, t.latest_metrics.c.key, t.latest_metrics.c.value)
                ).all(),
                "tags": conn.execute(of(t.tags, t.tags.c.key, t.tags.c.value)).all(),
            }

    def list_inputs(
        self, experiment: str | None = None, run_ids: Sequence[str] | None = None
    ) -> list[tuple[str, str, str, str | None]]:
        """``(run_id, name, digest, info)`` of the input data the runs recorded (of
        ``experiment``, or of ``run_ids``): what ``datasets.*`` filters read."""
        query = select(t.data_io.c.run_id, t.data_io.c.name, t.data_io.c.digest, t.data_io.c.info)
        query = query.where(t.data_io.c.direction == "input")
        if experiment is not None:
            query = query.join(t.runs, t.runs.c.run_id == t.data_io.c.run_id).join(
                t.experiments, t.experiments.c.experiment_id == t.runs.c.experiment_id
            )
            query = query.where(t.experiments.c.name == experiment)
        if run_ids is not None:
            query = query.where(t.data_io.c.run_id.in_(list(run_ids)))
        with read_transaction(self.engine) as conn:
            return [tuple(row) for row in conn.execute(query).all()]

    def run_keys(self, experiment: str | None = None) -> dict[str, list[str]]:
        """The distinct param, metric and tag keys of the runs (of ``experiment``), sorted.

        Read from the ``run_keys`` table kept on write (see :mod:`.run_keys`); keys of
        deleted runs stay listed until :meth:`rebuild_run_keys`.
        """
        with read_transaction(self.engine) as conn:
            experiment_id = None
            if experiment is not None:
                experiment_id = self._experiment_id(conn, experiment, create=False)
            return run_keys.read_keys(conn, experiment_id)

    def rebuild_run_keys(self) -> None:
        """Recompute the keys of every experiment from its runs (drops keys of deleted runs)."""
        self._write(run_keys.rebuild_run_keys)

    def page_run_ids(
        self,
        experiment: str | None,
        order: Sequence[tuple[str, bool]],
        offset: int,
        limit: int,
        now: float,
    ) -> tuple[list[str], int]:
        """One page of run ids sorted in SQL, and how many runs there are in all.

        ``order`` holds ``(column, descending)`` pairs; a column is ``run_id``, ``experiment``,
        ``name``, ``status``, ``start_time``, ``duration_s`` or ``metrics.<key>`` (latest
        value). Missing values sort last either way (a logged NaN metric before a run without
        the metric, as in MLflow); ties fall back to newest first.
        """
        query = select(t.runs.c.run_id).join(
            t.experiments, t.experiments.c.experiment_id == t.runs.c.experiment_id
        )
        count = select(func.count()).select_from(t.runs)
        if experiment is not None:
            query = query.where(t.experiments.c.name == experiment)
            count = count.join(
                t.experiments, t.experiments.c.experiment_id == t.runs.c.experiment_id
            ).where(t.experiments.c.name == experiment)
        terms = []
        for i, (column, descending) in enumerate(order):
            if column.startswith("metrics."):
                metric = t.latest_metrics.alias(f"m{i}")
                query = query.outerjoin(
                    metric,
                    and_(
                        metric.c.run_id == t.runs.c.run_id,
                        metric.c.key == column[len("metrics.") :],
                    ),
                )
                expr = metric.c.value
                # A logged NaN (NULL value) before the runs without the metric, as MLflow.
                terms.append((expr.desc() if descending else expr.asc()).nulls_last())
                terms.append(metric.c.run_id.is_(None).asc())
                continue
            elif column == "experiment":
                expr = t.experiments.c.name
            elif column == "duration_s":
                expr = func.coalesce(t.runs.c.end_time, now) - t.runs.c.start_time
            elif column in ("run_id", "name", "status", "start_time"):
                expr = t.runs.c[column]
            else:
                raise ValueError(f"cannot sort runs by {column!r} in SQL")
            terms.append((expr.desc() if descending else expr.asc()).nulls_last())
        terms += [t.runs.c.start_time.desc(), t.runs.c.run_id]
        query = query.order_by(*terms).offset(offset).limit(limit)
        with read_transaction(self.engine) as conn:
            if experiment is not None:
                self._experiment_id(conn, experiment, create=False)
            ids = list(conn.execute(query).scalars())
            total = int(conn.execute(count).scalar_one())
        return ids, total

    def experiments(self) -> list[dict]:
        with read_transaction(self.engine) as conn:
            counts = (
                select(t.runs.c.experiment_id, func.count().label("runs"))
                .group_by(t.runs.c.experiment_id)
                .subquery()
            )
            rows = (
                conn.execute(
                    select(
                        t.experiments.c.experiment_id,
                        t.experiments.c.name,
                        t.experiments.c.created_at,
                        func.coalesce(counts.c.runs, 0).label("runs"),
                    )
                    .outerjoin(counts, counts.c.experiment_id == t.experiments.c.experiment_id)
                    .order_by(t.experiments.c.experiment_id)
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]

    def counts(self) -> dict[str, Any]:
        """Row counts and runs per status, for ``nbmlops doctor``."""
        with read_transaction(self.engine) as conn:
            out: dict[str, Any] = {
                name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in (
                    ("experiments", t.experiments),
                    ("runs", t.runs),
                    ("metrics", t.metrics),
                    ("params", t.params),
                    ("artifacts", t.artifacts),
                )
            }
            out["by_status"] = dict(
                conn.execute(select(t.runs.c.status, func.count()).group_by(t.runs.c.status)).all()
            )
        return out

    def running_runs(self) -> list[dict]:
        with read_transaction(self.engine) as conn:
            rows = (
                conn.execute(
                    select(
                        t.runs.c.run_id,
                        t.runs.c.name,
                        t.runs.c.heartbeat_at,
                        t.runs.c.host,
                        t.runs.c.pid,
                    ).where(t.runs.c.status == "RUNNING")
                )
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]

    def schema_version(self) -> int:
        from .migrations import current_version

        with read_transaction(self.engine) as conn:
            return current_version(conn)

    def dispose(self) -> None:
        self.engine.dispose()
