"""Whole records written in one transaction each: what migrations from other trackers need.

A run arrives with its params, tags, full metric history and artifact rows; a model version
with its stage, aliases and history. Each is one transaction, so an import killed at any
point leaves every record either complete or absent, and a rerun skips what is there.
"""

from __future__ import annotations

from sqlalchemy import insert, select

from . import _schema as t
from . import run_keys
from ._engine import read_transaction
from .metadata import MetadataStore, _upsert


class ImportRecords:
    """Writes of whole runs and model versions, and the lookups that make reruns no-ops."""

    def __init__(self, meta: MetadataStore) -> None:
        self.meta = meta

    def run_exists(self, run_id: str) -> bool:
        with read_transaction(self.meta.engine) as conn:
            found = conn.execute(select(t.runs.c.run_id).where(t.runs.c.run_id == run_id))
            return found.scalar() is not None

    def write_run(
        self,
        row: dict,
        experiment: str,
        params: dict[str, str],
        tags: dict[str, str],
        metrics: list[tuple[str, float, int, float]],
        artifacts: list[dict],
        inputs: list[dict] | None = None,
    ) -> None:
        """Insert a finished run with everything it holds. ``params`` values are JSON text;
        ``metrics`` rows are ``(key, value, step, timestamp)``; ``inputs`` are ``data_io``
        rows (direction input) without the run id."""
        run_id = row["run_id"]

        def fn(conn):
            experiment_id = self.meta._experiment_id(conn, experiment, create=True)
            conn.execute(insert(t.runs).values(**row, experiment_id=experiment_id))
            if params:
                conn.execute(
                    insert(t.params),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in params.items()],
                )
            if tags:
                conn.execute(
                    insert(t.tags),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()],
                )
            # The run table's columns come from run_keys, kept on every write (metrics note
            # theirs in _write_metrics).
            run_keys.note_keys(conn, "params", ((run_id, k) for k in params))
            run_keys.note_keys(conn, "tags", ((run_id, k) for k in tags))
            rows = [(run_id, k, v, s, ts) for k, v, s, ts in metrics]
            self.meta._write_metrics(conn, rows)
            if artifacts:
                _upsert(
                    conn,
                    t.artifacts,
                    [{**a, "run_id": run_id} for a in artifacts],
                    ["run_id", "name"],
                )
            if inputs:
                conn.execute(
                    insert(t.data_io),
                    [{**row, "run_id": run_id, "direction": "input"} for row in inputs],
                )

        self.meta._write(fn)

    def version_exists(self, name: str, version: int) -> bool:
        with read_transaction(self.meta.engine) as conn:
            found = conn.execute(
                select(t.model_versions.c.version).where(
                    t.model_versions.c.name == name, t.model_versions.c.version == version
                )
            )
            return found.scalar() is not None

    def write_version(
        self,
        name: str,
        version: int,
        row: dict,
        model: dict,
        aliases: list[str],
        reason: str,
    ) -> None:
        """Insert version ``version`` of ``name`` as it was elsewhere (its number kept), the
        registered model when new (``model``: created_at, description), its aliases, and a
        register (and, with a stage, promote) entry in the history."""

        def fn(conn):
            exists = conn.execute(
                select(t.registered_models.c.name).where(t.registered_models.c.name == name)
            ).scalar()
            if exists is None:
                conn.execute(insert(t.registered_models).values(name=name, **model))
            conn.execute(insert(t.model_versions).values(**row, name=name, version=version))
            history = [
                {
                    "name": name,
                    "version": version,
                    "action": "register",
                    "from_stage": None,
                    "to_stage": None,
                    "user_name": row.get("user_name"),
                    "at": row["created_at"],
                    "reason": reason,
                }
            ]
            if row.get("stage"):
                history.append({**history[0], "action": "promote", "to_stage": row["stage"]})
            conn.execute(insert(t.model_transitions), history)
            if aliases:
                _upsert(
                    conn,
                    t.model_aliases,
                    [{"name": name, "alias": a, "version": version} for a in aliases],
                    ["name", "alias"],
                )

        self.meta._write(fn)

    def full_run(self, run_id: str) -> dict:
        """A run's row, experiment name, params (JSON text), tags, whole metric history,
        artifact rows and input data rows: what an export needs."""
        with read_transaction(self.meta.engine) as conn:
            row = dict(
                conn.execute(
                    select(t.runs, t.experiments.c.name.label("experiment"))
                    .join(t.experiments, t.experiments.c.experiment_id == t.runs.c.experiment_id)
                    .where(t.runs.c.run_id == run_id)
                )
                .mappings()
                .one()
            )
            params = dict(
                conn.execute(
                    select(t.params.c.key, t.params.c.value).where(t.params.c.run_id == run_id)
                ).all()
            )
            tags = dict(
                conn.execute(
                    select(t.tags.c.key, t.tags.c.value).where(t.tags.c.run_id == run_id)
                ).all()
            )
            metrics = [
                tuple(r)
                for r in conn.execute(
                    select(
                        t.metrics.c.key, t.metrics.c.value, t.metrics.c.step, t.metrics.c.timestamp
                    )
                    .where(t.metrics.c.run_id == run_id)
                    .order_by(t.metrics.c.id)
                ).all()
            ]
            artifacts = [
                dict(r)
                for r in conn.execute(
                    select(t.artifacts.c.name, t.artifacts.c.digest, t.artifacts.c.size).where(
                        t.artifacts.c.run_id == run_id
                    )
                ).mappings()
            ]
            inputs = [
                dict(r)
                for r in conn.execute(
                    select(
                        t.data_io.c.name,
                        t.data_io.c.kind,
                        t.data_io.c.digest,
                        t.data_io.c.shape,
                        t.data_io.c.schema,
                        t.data_io.c.info,
                    )
                    .where(t.data_io.c.run_id == run_id, t.data_io.c.direction == "input")
                    .order_by(t.data_io.c.name)
                ).mappings()
            ]
        return {
            "row": row,
            "params": params,
            "tags": tags,
            "metrics": metrics,
            "artifacts": artifacts,
            "inputs": inputs,
        }

    def run_ids(self, experiment: str | None = None) -> list[str]:
        """Run ids, oldest first (parents before the children they started)."""
        query = select(t.runs.c.run_id).join(
            t.experiments, t.experiments.c.experiment_id == t.runs.c.experiment_id
        )
        if experiment is not None:
            query = query.where(t.experiments.c.name == experiment)
        with read_transaction(self.meta.engine) as conn:
            return list(
                conn.execute(query.order_by(t.runs.c.start_time, t.runs.c.run_id)).scalars()
            )

    def versions(self) -> list[dict]:
        """Every model version with its model's description and its aliases, by name and number."""
        with read_transaction(self.meta.engine) as conn:
            rows = [
                dict(r)
                for r in conn.execute(
                    select(
                        t.model_versions,
                        t.registered_models.c.description.label("model_description"),
                    )
                    .join(
                        t.registered_models, t.registered_models.c.name == t.model_versions.c.name
                    )
                    .order_by(t.model_versions.c.name, t.model_versions.c.version)
                ).mappings()
            ]
            aliases: dict[tuple[str, int], list[str]] = {}
            for name, alias, version in conn.execute(
                select(t.model_aliases.c.name, t.model_aliases.c.alias, t.model_aliases.c.version)
            ).all():
                aliases.setdefault((name, version), []).append(alias)
        for row in rows:
            row["aliases"] = sorted(aliases.get((row["name"], row["version"]), []))
        return rows


__all__ = ["ImportRecords"]
