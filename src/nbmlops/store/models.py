"""Reads and writes of the model registry: versions, stages, aliases and their history.

Every change is one short transaction that first locks the model's row (``SELECT … FOR
UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serializes writers), so version
numbers are assigned without gaps or duplicates and a name never has two production versions.
A partial unique index enforces the latter in the database as well.

This module speaks rows and plain values; the user-facing objects live in
:mod:`nbmlops.registry`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from ..errors import InvalidTransition, ModelNotFound
from . import _schema as t
from ._engine import read_transaction
from .audit import append as audit

STAGES = ("staging", "production", "archived")
PRODUCTION = "production"
ARCHIVED = "archived"
DELETE = "delete"  # the history action of a deleted version


class ChampionChanged(Exception):
    """The production version moved between checking gates and promoting: check again."""


def _insert_ignore(conn: Connection, table, row: dict, keys: list[str]) -> None:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    conn.execute(dialect_insert(table).values(**row).on_conflict_do_nothing(index_elements=keys))


class ModelRecords:
    """The registry tables of one metadata store."""

    def __init__(self, meta) -> None:
        self.meta = meta
        self.engine = meta.engine

    # -- helpers ------------------------------------------------------------------------------

    def _lock(self, conn: Connection, name: str, create: bool = False) -> None:
        """Lock the model's row for this transaction (create it first when asked)."""
        if create:
            _insert_ignore(
                conn, t.registered_models, {"name": name, "created_at": time.time()}, ["name"]
            )
        found = conn.execute(
            select(t.registered_models.c.name)
            .where(t.registered_models.c.name == name)
            .with_for_update()
        ).scalar()
        if found is None:
            raise ModelNotFound(self._unknown_model_message(conn, name))

    def _require_model(self, conn: Connection, name: str) -> None:
        """Raise ``ModelNotFound`` (suggesting close names) unless ``name`` is registered."""
        found = conn.execute(
            select(t.registered_models.c.name).where(t.registered_models.c.name == name)
        ).scalar()
        if found is None:
            raise ModelNotFound(self._unknown_model_message(conn, name))

    @staticmethod
    def _unknown_model_message(conn: Connection, name: str) -> str:
        import difflib

        names = conn.execute(select(t.registered_models.c.name)).scalars().all()
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        return f"no registered model named {name!r}{hint} (list them with nbmlops.models())"

    def _stage_of(self, conn: Connection, name: str, version: int) -> str | None:
        row = conn.execute(
            select(t.model_versions.c.stage).where(
                t.model_versions.c.name == name, t.model_versions.c.version == version
            )
        ).first()
        if row is None:
            raise ModelNotFound(self._missing_version_message(conn, name, version))
        return row[0]

    @staticmethod
    def _production(conn: Connection, name: str) -> int | None:
        return conn.execute(
            select(t.model_versions.c.version).where(
                t.model_versions.c.name == name, t.model_versions.c.stage == PRODUCTION
            )
        ).scalar()

    @staticmethod
    def _highest_version_ever(conn: Connection, name: str) -> int:
        """The largest version number ``name`` ever had, deleted ones included (the history
        keeps them), so a number is never given out twice."""
        numbers = [
            conn.execute(select(func.max(table.c.version)).where(table.c.name == name)).scalar()
            for table in (t.model_versions, t.model_transitions)
        ]
        return max(int(n or 0) for n in numbers)

    @staticmethod
    def _deletion(conn: Connection, name: str, version: int) -> dict | None:
        """The history row of the deletion of ``version``, if it was deleted."""
        row = (
            conn.execute(
                select(t.model_transitions)
                .where(
                    t.model_transitions.c.name == name,
                    t.model_transitions.c.version == version,
                    t.model_transitions.c.action == DELETE,
                )
                .order_by(t.model_transitions.c.id.desc())
            )
            .mappings()
            .first()
        )
        return None if row is None else dict(row)

    def _missing_version_message(self, conn: Connection, name: str, version: int) -> str:
        deleted = self._deletion(conn, name, version)
        if deleted is not None:
            import datetime as dt

            when = dt.datetime.fromtimestamp(deleted["at"], dt.timezone.utc)
            who = f" by {deleted['user_name']}" if deleted["user_name"] else ""
            why = f" ({deleted['reason']})" if deleted["reason"] else ""
            return (
                f"version {version} of model {name!r} was deleted on "
                f"{when:%Y-%m-%d %H:%M UTC}{who}{why}; see nbmlops.model_history({name!r}) "
                f"and nbmlops.model_versions({name!r}) for the versions that remain"
            )
        latest = conn.execute(
            select(func.max(t.model_versions.c.version)).where(t.model_versions.c.name == name)
        ).scalar()
        have = f"its versions are 1 to {latest}" if latest else "it has no versions"
        return f"model {name!r} has no version {version}; {have}"

    @staticmethod
    def _record(
        conn: Connection,
        name: str,
        version: int,
        action: str,
        from_stage,
        to_stage,
        user: str | None,
        reason: str | None,
        at: float,
        gates: list[str] | None = None,
    ) -> None:
        conn.execute(
            insert(t.model_transitions).values(
                name=name,
                version=version,
                action=action,
                from_stage=from_stage,
                to_stage=to_stage,
                user_name=user,
                at=at,
                reason=reason,
                gates=json.dumps(gates) if gates else None,
            )
        )
        # The same change, chained into the audit log in this transaction.
        audit(
            conn,
            f"model.{action}",
            f"models:/{name}/{version}",
            {
                "name": name,
                "version": version,
                "from_stage": from_stage,
                "to_stage": to_stage,
                "reason": reason,
                "gates": gates or None,
            },
            user,
        )

    def _set_stage(
        self,
        conn: Connection,
        name: str,
        version: int,
        to_stage: str | None,
        action: str,
        user: str | None,
        reason: str | None,
        at: float,
        gates: list[str] | None = None,
    ) -> None:
        before = self._stage_of(conn, name, version)
        if before == to_stage:
            return
        conn.execute(
            update(t.model_versions)
            .where(t.model_versions.c.name == name, t.model_versions.c.version == version)
            .values(stage=to_stage)
        )
        self._record(conn, name, version, action, before, to_stage, user, reason, at, gates)

    # -- writes -------------------------------------------------------------------------------

    def register(self, name: str, row: dict, user: str | None, description: str | None) -> int:
        """Insert a new version of ``name`` (created if new); return its number."""

        def fn(conn):
            self._lock(conn, name, create=True)
            if description is not None:
                conn.execute(
                    update(t.registered_models)
                    .where(
                        t.registered_models.c.name == name,
                        t.registered_models.c.description.is_(None),
                    )
                    .values(description=description)
                )
            version = self._highest_version_ever(conn, name) + 1
            now = row["created_at"]
            conn.execute(insert(t.model_versions).values(**row, name=name, version=version))
            self._record(conn, name, version, "register", None, None, user, None, now)
            return version

        return self.meta._write(fn)

    def transition(
        self,
        name: str,
        version: int,
        to_stage: str,
        user: str | None,
        reason: str | None,
        expected_champion: int | None | object = ...,
        gates: list[str] | None = None,
    ) -> None:
        """Move ``version`` to ``to_stage``; into production demotes the old one to archived.

        ``expected_champion``: the production version the caller's gates were checked against;
        if another process changed it meanwhile, :class:`ChampionChanged` is raised and nothing
        is written. ``gates``: the gates it passed, kept in its transition row.
        """

        def fn(conn):
            self._lock(conn, name)
            champion = self._production(conn, name)
            if expected_champion is not ... and champion != expected_champion:
                raise ChampionChanged()
            self.move(conn, name, version, to_stage, user, reason, gates)

        self.meta._write(fn)

    def move(
        self,
        conn: Connection,
        name: str,
        version: int,
        to_stage: str,
        user: str | None,
        reason: str | None,
        gates: list[str] | None = None,
    ) -> None:
        """The stage change of :meth:`transition` inside the caller's transaction, which
        holds the model's lock (an approval performs it with the approval it completes)."""
        before = self._stage_of(conn, name, version)
        champion = self._production(conn, name)
        now = time.time()
        if to_stage == PRODUCTION:
            if champion is not None and champion != version:
                self._set_stage(
                    conn,
                    name,
                    champion,
                    ARCHIVED,
                    "promote",
                    user,
                    f"replaced by version {version}" + (f": {reason}" if reason else ""),
                    now,
                )
        elif before == PRODUCTION:
            raise InvalidTransition(
                f"version {version} of {name!r} is in production; a model always keeps "
                "one production version once it has one: promote another version to "
                f"production or call nbmlops.rollback({name!r})"
            )
        self._set_stage(conn, name, version, to_stage, "promote", user, reason, now, gates)

    def rollback(self, name: str, user: str | None, reason: str | None) -> tuple[int, int]:
        """Restore the production version before the current one; return ``(from, to)``."""

        def fn(conn):
            self._lock(conn, name)
            current = self._production(conn, name)
            if current is None:
                raise InvalidTransition(
                    f"model {name!r} has no production version to roll back from"
                )
            stack = self._production_stack(conn, name)
            if len(stack) < 2:
                raise InvalidTransition(
                    f"model {name!r} has had only one production version ({current}); there "
                    "is nothing to roll back to"
                )
            target = stack[-2]
            now = time.time()
            note = reason or f"rollback from version {current}"
            self._set_stage(conn, name, current, ARCHIVED, "rollback", user, note, now)
            self._set_stage(conn, name, target, PRODUCTION, "rollback", user, note, now)
            return current, target

        return self.meta._write(fn)

    @staticmethod
    def _production_stack(conn: Connection, name: str) -> list[int]:
        """Versions in production over time: a promotion pushes, a rollback pops; deleted
        versions are left out (a rollback never targets one)."""
        rows = conn.execute(
            select(t.model_transitions.c.version, t.model_transitions.c.action)
            .where(t.model_transitions.c.name == name, t.model_transitions.c.to_stage == PRODUCTION)
            .order_by(t.model_transitions.c.id)
        ).all()
        stack: list[int] = []
        for version, action in rows:
            if action == "rollback":
                if stack:
                    stack.pop()
                if not stack or stack[-1] != version:
                    stack.append(version)
            else:
                stack.append(version)
        existing = set(
            conn.execute(select(t.model_versions.c.version).where(t.model_versions.c.name == name))
            .scalars()
            .all()
        )
        kept: list[int] = []
        for version in stack:
            if version in existing and (not kept or kept[-1] != version):
                kept.append(version)
        return kept

    def set_alias(
        self, name: str, alias: str, version: int, user: str | None, reason: str | None
    ) -> None:
        def fn(conn):
            self._lock(conn, name)
            self._stage_of(conn, name, version)  # the version must exist
            previous = conn.execute(
                select(t.model_aliases.c.version).where(
                    t.model_aliases.c.name == name, t.model_aliases.c.alias == alias
                )
            ).scalar()
            if previous == version:
                return
            now = time.time()
            if previous is not None:
                conn.execute(
                    update(t.model_aliases)
                    .where(t.model_aliases.c.name == name, t.model_aliases.c.alias == alias)
                    .values(version=version)
                )
                self._record(conn, name, previous, "unalias", alias, None, user, reason, now)
            else:
                conn.execute(
                    insert(t.model_aliases).values(name=name, alias=alias, version=version)
                )
            self._record(conn, name, version, "alias", None, alias, user, reason, now)

        self.meta._write(fn)

    def delete_alias(self, name: str, alias: str, user: str | None, reason: str | None) -> None:
        def fn(conn):
            self._lock(conn, name)
            previous = conn.execute(
                select(t.model_aliases.c.version).where(
                    t.model_aliases.c.name == name, t.model_aliases.c.alias == alias
                )
            ).scalar()
            if previous is None:
                raise ModelNotFound(f"model {name!r} has no alias {alias!r}")
            conn.execute(
                delete(t.model_aliases).where(
                    t.model_aliases.c.name == name, t.model_aliases.c.alias == alias
                )
            )
            self._record(conn, name, previous, "unalias", alias, None, user, reason, time.time())

        self.meta._write(fn)

    def delete_version(
        self, name: str, version: int, user: str | None, reason: str | None
    ) -> tuple[dict, list[str]]:
        """Delete ``version`` of ``name`` in one transaction; return its row and the digests
        of its files (model, reference data) that nothing else references any more.

        Refused (:class:`InvalidTransition`) for the production version or one an alias points
        at. The version's row, evaluation metrics, reference and its run's link to the model
        file go; the deletion is kept in the history, which also keeps the number from being
        given out again.
        """

        def fn(conn):
            self._lock(conn, name)
            row = (
                conn.execute(
                    select(t.model_versions).where(
                        t.model_versions.c.name == name, t.model_versions.c.version == version
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise ModelNotFound(self._missing_version_message(conn, name, version))
            if row["stage"] == PRODUCTION:
                raise InvalidTransition(
                    f"version {version} of {name!r} is in production and cannot be deleted: "
                    f"promote another version to production first (nbmlops.promote({name!r}, "
                    f"VERSION)) or roll back (nbmlops.rollback({name!r}))"
                )
            aliases = sorted(
                conn.execute(
                    select(t.model_aliases.c.alias).where(
                        t.model_aliases.c.name == name, t.model_aliases.c.version == version
                    )
                )
                .scalars()
                .all()
            )
            if aliases:
                listed = ", ".join(aliases)
                raise InvalidTransition(
                    f"version {version} of {name!r} holds the alias{'es' if len(aliases) > 1 else ''} "
                    f"{listed} and cannot be deleted: move the alias to another version first "
                    f"(nbmlops.set_alias({name!r}, {aliases[0]!r}, VERSION)) or remove it "
                    f"(nbmlops.delete_alias({name!r}, {aliases[0]!r}))"
                )
            reference = conn.execute(
                select(t.model_references.c.digest).where(
                    t.model_references.c.name == name, t.model_references.c.version == version
                )
            ).scalar()
            if row["run_id"] is not None:
                # The link register_model added to the run for this version's model file.
                links = [f"models/{name}/v{version}/model.{ext}" for ext in ("skops", "pkl")]
                conn.execute(
                    delete(t.artifacts).where(
                        t.artifacts.c.run_id == row["run_id"], t.artifacts.c.name.in_(links)
                    )
                )
            for table in (t.model_metrics, t.model_references, t.model_versions):
                conn.execute(delete(table).where(table.c.name == name, table.c.version == version))
            self._record(conn, name, version, DELETE, row["stage"], None, user, reason, time.time())
            candidates = [row["digest"]] + ([reference] if reference else [])
            orphans = [d for d in dict.fromkeys(candidates) if not self._blob_in_use(conn, d)]
            return dict(row), orphans

        return self.meta._write(fn)

    @staticmethod
    def _blob_in_use(conn: Connection, digest: str) -> bool:
        """True when any run, version, reference, report, environment or monitor names the
        artifact ``digest`` (content-addressed blobs are shared by identical content)."""
        columns = (
            t.artifacts.c.digest,
            t.model_versions.c.digest,
            t.model_references.c.digest,
            t.drift_reports.c.json_digest,
            t.drift_reports.c.html_digest,
            t.environments.c.packages_digest,
        )
        for column in columns:
            if conn.execute(select(column).where(column == digest).limit(1)).first():
                return True
        # A monitor keeps its own reference data by digest inside its JSON definition.
        return (
            conn.execute(
                select(t.monitors.c.name)
                .where(t.monitors.c.definition.contains(digest, autoescape=True))
                .limit(1)
            ).first()
            is not None
        )

    def deletion(self, name: str, version: int) -> dict | None:
        """The history row that deleted ``version`` of ``name`` (None if it was not deleted)."""
        return self._read(lambda conn: self._deletion(conn, name, version))

    def blob_in_use(self, digest: str) -> bool:
        return self._read(lambda conn: self._blob_in_use(conn, digest))

    def update_version(
        self, name: str, version: int, user: str | None = None, **values: Any
    ) -> None:
        """Change descriptive fields (description, tags, card) of a version."""

        def fn(conn):
            self._stage_of(conn, name, version)
            conn.execute(
                update(t.model_versions)
                .where(t.model_versions.c.name == name, t.model_versions.c.version == version)
                .values(**values)
            )
            audit(conn, "model.update", f"models:/{name}/{version}", dict(values), user)

        self.meta._write(fn)

    def save_metrics(
        self, name: str, version: int, rows: list[dict], user: str | None = None
    ) -> None:
        """Replace the stored evaluation metrics of a version."""

        def fn(conn):
            self._stage_of(conn, name, version)
            conn.execute(
                delete(t.model_metrics).where(
                    t.model_metrics.c.name == name, t.model_metrics.c.version == version
                )
            )
            if rows:
                conn.execute(
                    insert(t.model_metrics),
                    [
                        {
                            **r,
                            "name": name,
                            "version": version,
                            "value": None if math.isnan(r["value"]) else r["value"],
                        }
                        for r in rows
                    ],
                )
            overall = {r["key"]: r["value"] for r in rows if r["segment"] == ""}
            segments = sorted({r["segment"] for r in rows if r["segment"]})
            audit(
                conn,
                "model.evaluate",
                f"models:/{name}/{version}",
                {
                    "metrics": overall,
                    "segments": segments,
                    "dataset_digest": rows[0].get("dataset_digest") if rows else None,
                },
                user,
            )

        self.meta._write(fn)

    # -- reads --------------------------------------------------------------------------------

    def _read(self, fn: Callable[[Connection], Any]) -> Any:
        with read_transaction(self.engine) as conn:
            return fn(conn)

    def get_version(self, name: str, version: int) -> dict:
        def fn(conn):
            row = (
                conn.execute(
                    select(t.model_versions).where(
                        t.model_versions.c.name == name, t.model_versions.c.version == version
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                self._require_model(conn, name)
                raise ModelNotFound(self._missing_version_message(conn, name, version))
            out = dict(row)
            out["aliases"] = sorted(
                conn.execute(
                    select(t.model_aliases.c.alias).where(
                        t.model_aliases.c.name == name, t.model_aliases.c.version == version
                    )
                )
                .scalars()
                .all()
            )
            return out

        return self._read(fn)

    def resolve(self, name: str, selector: str) -> int:
        """The version number that ``latest``, a stage or an alias of ``name`` points to."""

        def fn(conn):
            self._require_model(conn, name)
            if selector == "latest":
                found = conn.execute(
                    select(func.max(t.model_versions.c.version)).where(
                        t.model_versions.c.name == name
                    )
                ).scalar()
            elif selector in STAGES:
                # Several versions may be staging or archived: the newest one.
                found = conn.execute(
                    select(func.max(t.model_versions.c.version)).where(
                        t.model_versions.c.name == name, t.model_versions.c.stage == selector
                    )
                ).scalar()
            else:
                found = conn.execute(
                    select(t.model_aliases.c.version).where(
                        t.model_aliases.c.name == name, t.model_aliases.c.alias == selector
                    )
                ).scalar()
            if found is None:
                known = sorted(
                    conn.execute(
                        select(t.model_aliases.c.alias).where(t.model_aliases.c.name == name)
                    )
                    .scalars()
                    .all()
                )
                stages = sorted(
                    conn.execute(
                        select(t.model_versions.c.stage)
                        .where(
                            t.model_versions.c.name == name, t.model_versions.c.stage.is_not(None)
                        )
                        .distinct()
                    )
                    .scalars()
                    .all()
                )
                have = ", ".join([*stages, *known]) or "none yet"
                raise ModelNotFound(
                    f"model {name!r} has no version at {selector!r} (it has: {have}); "
                    f"promote one with nbmlops.promote({name!r}, VERSION, to={selector!r})"
                    if selector in STAGES
                    else f"model {name!r} has no alias {selector!r} (it has: {have})"
                )
            return int(found)

        return self._read(fn)

    def list_models(self) -> list[dict]:
        def fn(conn):
            versions = t.model_versions
            counts = (
                select(
                    versions.c.name,
                    func.count().label("versions"),
                    func.max(versions.c.version).label("latest_version"),
                )
                .group_by(versions.c.name)
                .subquery()
            )
            # The last change of any kind: registration, promotion, rollback, alias.
            changed = (
                select(
                    t.model_transitions.c.name,
                    func.max(t.model_transitions.c.at).label("updated_at"),
                )
                .group_by(t.model_transitions.c.name)
                .subquery()
            )
            production = (
                select(versions.c.name, versions.c.version.label("production_version"))
                .where(versions.c.stage == PRODUCTION)
                .subquery()
            )
            rows = (
                conn.execute(
                    select(
                        t.registered_models.c.name,
                        t.registered_models.c.description,
                        t.registered_models.c.created_at,
                        counts.c.versions,
                        counts.c.latest_version,
                        changed.c.updated_at,
                        production.c.production_version,
                    )
                    .select_from(t.registered_models)
                    .join(counts, counts.c.name == t.registered_models.c.name, isouter=True)
                    .join(production, production.c.name == t.registered_models.c.name, isouter=True)
                    .join(changed, changed.c.name == t.registered_models.c.name, isouter=True)
                    .order_by(t.registered_models.c.name)
                )
                .mappings()
                .all()
            )
            aliases = conn.execute(
                select(t.model_aliases.c.name, t.model_aliases.c.alias, t.model_aliases.c.version)
            ).all()
            out = []
            for row in rows:
                item = dict(row)
                item["aliases"] = {a: v for n, a, v in aliases if n == row["name"]}
                out.append(item)
            return out

        return self._read(fn)

    def list_versions(self, name: str) -> list[dict]:
        def fn(conn):
            self._require_model(conn, name)
            rows = (
                conn.execute(
                    select(t.model_versions)
                    .where(t.model_versions.c.name == name)
                    .order_by(t.model_versions.c.version)
                )
                .mappings()
                .all()
            )
            aliases: dict[int, list[str]] = {}
            for alias, version in conn.execute(
                select(t.model_aliases.c.alias, t.model_aliases.c.version).where(
                    t.model_aliases.c.name == name
                )
            ).all():
                aliases.setdefault(version, []).append(alias)
            return [{**dict(r), "aliases": sorted(aliases.get(r["version"], []))} for r in rows]

        return self._read(fn)

    def history(self, name: str) -> list[dict]:
        def fn(conn):
            self._require_model(conn, name)
            return [
                dict(r)
                for r in conn.execute(
                    select(t.model_transitions)
                    .where(t.model_transitions.c.name == name)
                    .order_by(t.model_transitions.c.id)
                )
                .mappings()
                .all()
            ]

        return self._read(fn)

    def production_version(self, name: str) -> int | None:
        return self._read(lambda conn: self._production(conn, name))

    def rollback_target(self, name: str) -> int | None:
        """The version ``rollback`` would put back in production, None when there is none."""

        def fn(conn):
            self._require_model(conn, name)
            stack = self._production_stack(conn, name)
            if self._production(conn, name) is None or len(stack) < 2:
                return None
            return stack[-2]

        return self._read(fn)

    def last_gates(self, name: str) -> list[str] | None:
        """The gates of the latest promotion of ``name`` that was checked by gates."""

        def fn(conn):
            self._require_model(conn, name)
            found = conn.execute(
                select(t.model_transitions.c.gates)
                .where(t.model_transitions.c.name == name, t.model_transitions.c.gates.is_not(None))
                .order_by(t.model_transitions.c.id.desc())
                .limit(1)
            ).scalar()
            return None if found is None else json.loads(found)

        return self._read(fn)

    def version_metrics(self, name: str, version: int) -> list[dict]:
        return self._read(
            lambda conn: [
                dict(r)
                for r in conn.execute(
                    select(t.model_metrics)
                    .where(
                        and_(t.model_metrics.c.name == name, t.model_metrics.c.version == version)
                    )
                    .order_by(t.model_metrics.c.segment, t.model_metrics.c.key)
                )
                .mappings()
                .all()
            ]
        )
