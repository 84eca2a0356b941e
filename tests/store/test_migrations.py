"""Schema versions: recorded in the store, applied to an empty database, never downgraded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, make_url, select, text
from sqlalchemy.engine import Engine

import nbmlops
from nbmlops.errors import SchemaVersionError, StoreError
from nbmlops.store import SCHEMA_VERSION, MetadataStore, get_store
from nbmlops.store import _schema as schema
from nbmlops.store.migrations import MIGRATIONS, upgrade

VERSION_TABLE = "nbmlops_schema_version"
ALL_TABLES = set(schema.metadata.tables)


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def raw_engine(backend):
    """A plain SQLAlchemy engine on the (still empty) store database of the test."""
    parsed = make_url(nbmlops.get_settings().store_url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)
    yield engine
    engine.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _versions(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(
                    schema.schema_version.c.version, schema.schema_version.c.nbmlops_version
                ).order_by(schema.schema_version.c.version)
            ).all()
        ]


def test_schema_version_is_latest_migration():
    assert MIGRATIONS[-1][0] == SCHEMA_VERSION
    numbers = [m[0] for m in MIGRATIONS]
    assert numbers == list(range(1, len(MIGRATIONS) + 1))


def test_new_store_records_its_schema_version(raw_engine):
    before = time.time()
    with nbmlops.start_run():
        pass
    assert _tables(raw_engine) >= ALL_TABLES
    assert _versions(raw_engine) == [(v, nbmlops.__version__) for v, _d, _s in MIGRATIONS]
    with raw_engine.connect() as conn:
        applied = conn.execute(select(func.max(schema.schema_version.c.applied_at))).scalar_one()
    assert before - 1 <= applied <= time.time() + 1
    assert get_store().meta.schema_version() == SCHEMA_VERSION


def test_upgrade_of_an_empty_database_creates_every_table(raw_engine):
    assert _tables(raw_engine) == set()
    assert upgrade(raw_engine) == 0  # the version it was at
    assert _tables(raw_engine) >= ALL_TABLES
    assert [v for v, _ in _versions(raw_engine)] == [v for v, _d, _s in MIGRATIONS]
    assert upgrade(raw_engine) == SCHEMA_VERSION  # already there: nothing to do
    assert len(_versions(raw_engine)) == len(MIGRATIONS)


def test_store_with_a_newer_schema_is_refused_and_left_untouched(raw_engine):
    # A database that a future nbmlops has claimed, before it created anything we know.
    with raw_engine.begin() as conn:
        schema.schema_version.create(conn)
        conn.execute(
            schema.schema_version.insert().values(
                version=SCHEMA_VERSION + 1, applied_at=1.0, nbmlops_version="99.0"
            )
        )
    url = nbmlops.get_settings().store_url

    with pytest.raises(SchemaVersionError, match=f"schema version {SCHEMA_VERSION + 1}") as info:
        MetadataStore(url)
    assert isinstance(info.value, StoreError)
    assert "upgrade nbmlops" in str(info.value)
    assert _tables(raw_engine) == {VERSION_TABLE}  # no migration was applied
    assert _versions(raw_engine) == [(SCHEMA_VERSION + 1, "99.0")]

    # The public API refuses it as well, and still changes nothing.
    with pytest.raises(SchemaVersionError):
        nbmlops.start_run()
    assert nbmlops.active_run() is None
    assert _tables(raw_engine) == {VERSION_TABLE}


def test_populated_store_from_a_newer_nbmlops_keeps_its_runs(raw_engine):
    with nbmlops.start_run(name="kept") as run:
        nbmlops.log_param("C", 0.5)
        nbmlops.log_metric("acc", 0.9)
    with raw_engine.begin() as conn:
        conn.execute(
            schema.schema_version.insert().values(
                version=SCHEMA_VERSION + 1, applied_at=time.time(), nbmlops_version="99.0"
            )
        )
        counts_before = {
            t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in ALL_TABLES
        }

    nbmlops.configure(reset=True)  # forget the store opened before the "upgrade"
    with pytest.raises(SchemaVersionError):
        nbmlops.runs()
    with pytest.raises(SchemaVersionError):
        nbmlops.start_run(name="must-not-exist")

    with raw_engine.connect() as conn:
        counts_after = {
            t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in ALL_TABLES
        }
        names = conn.execute(select(schema.runs.c.name)).scalars().all()
    assert counts_after == counts_before
    assert names == ["kept"]
    assert run.run_id  # the run object itself is untouched


def test_reopening_a_store_is_idempotent(raw_engine):
    with nbmlops.start_run(name="first") as run:
        nbmlops.log_params({"C": 0.5})
        nbmlops.log_metric("acc", 0.9)
    versions = _versions(raw_engine)
    for _ in range(3):
        nbmlops.configure(reset=True)  # drops cached stores: the next call opens anew
        store = get_store()
        assert store.meta.schema_version() == SCHEMA_VERSION
        MetadataStore(nbmlops.get_settings().store_url).dispose()
    assert _versions(raw_engine) == versions
    reopened = nbmlops.get_run(run.run_id)
    assert (reopened.name, reopened.status) == ("first", "FINISHED")
    assert reopened.params == {"C": 0.5}
    assert reopened.metrics == {"acc": 0.9}


def test_concurrent_first_opens_apply_each_migration_once(raw_engine):
    import threading

    url = nbmlops.get_settings().store_url
    n = 6
    barrier = threading.Barrier(n)
    opened: list[MetadataStore] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def open_store() -> None:
        try:
            barrier.wait(timeout=30)
            store = MetadataStore(url)
            with lock:
                opened.append(store)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert errors == []
        assert len(opened) == n
        assert [v for v, _ in _versions(raw_engine)] == [v for v, _d, _s in MIGRATIONS]
        assert _tables(raw_engine) >= ALL_TABLES
    finally:
        for store in opened:
            store.dispose()


def test_a_version_1_store_is_upgraded_in_place_keeping_its_runs(raw_engine):
    # A workspace written before the model registry existed (schema 1), holding one run …
    from nbmlops.store.migrations import _v1_initial

    now = time.time()
    with raw_engine.begin() as conn:
        _v1_initial(conn)
        conn.execute(
            schema.schema_version.insert().values(
                version=1, applied_at=now, nbmlops_version="0.1.0"
            )
        )
        conn.execute(schema.experiments.insert().values(name="default", created_at=now))
        experiment_id = conn.execute(select(schema.experiments.c.experiment_id)).scalar_one()
        conn.execute(
            schema.runs.insert().values(
                run_id="a" * 32,
                experiment_id=experiment_id,
                name="old",
                status="FINISHED",
                start_time=now,
                end_time=now + 1,
                heartbeat_at=now + 1,
            )
        )
        conn.execute(
            schema.latest_metrics.insert().values(
                run_id="a" * 32, key="acc", value=0.5, step=0, timestamp=now
            )
        )
    assert "model_versions" not in _tables(raw_engine)
    # … opened by this nbmlops gains the registry tables and keeps what it had.
    nbmlops.configure(reset=True)
    assert nbmlops.get_run("a" * 32).metrics == {"acc": 0.5}
    assert _tables(raw_engine) >= ALL_TABLES
    assert [v for v, _ in _versions(raw_engine)] == [v for v, _d, _s in MIGRATIONS]
    assert nbmlops.models().empty


def test_a_version_5_store_gains_the_gates_of_transitions(raw_engine):
    # A workspace of schema 5 (before transitions recorded gates) holding a promotion …
    from nbmlops.store.migrations import MIGRATIONS

    now = time.time()
    with raw_engine.begin() as conn:
        for version, _description, step in MIGRATIONS[:5]:
            step(conn)
            conn.execute(
                schema.schema_version.insert().values(
                    version=version, applied_at=now, nbmlops_version="0.1.0"
                )
            )
        conn.execute(text("ALTER TABLE model_transitions DROP COLUMN gates"))
        conn.execute(schema.registered_models.insert().values(name="iris", created_at=now))
        conn.execute(
            text(
                "INSERT INTO model_transitions (name, version, action, to_stage, at, reason) "
                "VALUES ('iris', 1, 'promote', 'production', :at, 'old')"
            ),
            {"at": now},
        )
    assert "gates" not in {c["name"] for c in inspect(raw_engine).get_columns("model_transitions")}
    # … opened by this nbmlops gains the column, keeping the row (no gates recorded then).
    nbmlops.configure(reset=True)
    assert get_store().meta.schema_version() == SCHEMA_VERSION
    assert "gates" in {c["name"] for c in inspect(raw_engine).get_columns("model_transitions")}
    assert get_store().models.history("iris")[0]["reason"] == "old"
    assert get_store().models.last_gates("iris") is None
