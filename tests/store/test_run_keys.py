"""The keys of a run table come from a table kept on write, not a scan of every value."""

from __future__ import annotations

from sqlalchemy import delete, select, text

import nbmlops
from nbmlops.store import _schema as t
from nbmlops.store import get_store
from nbmlops.store.migrations import upgrade


def _scanned(store, experiment=None):
    """The keys as a full SELECT DISTINCT sees them (what run_keys() used to run)."""
    out = {}
    with store.meta.engine.connect() as conn:
        for kind, table in (("params", t.params), ("metrics", t.latest_metrics), ("tags", t.tags)):
            query = select(table.c.key).join(t.runs, t.runs.c.run_id == table.c.run_id)
            if experiment is not None:
                query = query.join(
                    t.experiments, t.experiments.c.experiment_id == t.runs.c.experiment_id
                ).where(t.experiments.c.name == experiment)
            out[kind] = sorted(set(conn.execute(query).scalars()))
    return out


def _write_runs():
    with nbmlops.start_run(experiment="a", tags={"team": "x"}) as run:
        run.log_params({"lr": 0.1, "depth": 3})
        for step in range(3):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.set_tag("stage", "dev")
    with nbmlops.start_run(experiment="b") as run:
        run.log_param("alpha", 1)
        run.log_metrics({"acc": 0.9})


def test_keys_are_kept_on_write_per_experiment(backend):
    _write_runs()
    store = get_store()
    assert store.meta.run_keys() == _scanned(store)
    assert store.meta.run_keys("a") == _scanned(store, "a")
    assert store.meta.run_keys("b") == {"metrics": ["acc"], "params": ["alpha"], "tags": []}
    # Written behind the store's back: not listed until the table is rebuilt from the runs.
    run_id = nbmlops.runs(experiment="b").run_id[0]
    with store.meta.engine.begin() as conn:
        conn.execute(t.params.insert().values(run_id=run_id, key="sneaky", value="1"))
    assert "sneaky" not in store.meta.run_keys("b")["params"]
    store.meta.rebuild_run_keys()
    assert store.meta.run_keys("b")["params"] == ["alpha", "sneaky"]
    # Deleted runs' keys go at the next rebuild.
    store.meta.delete_run(run_id)
    store.meta.rebuild_run_keys()
    assert store.meta.run_keys("b") == {"metrics": [], "params": [], "tags": []}


def test_the_migration_fills_the_table_from_existing_runs(backend):
    _write_runs()
    store = get_store()
    expected = store.meta.run_keys()
    with store.meta.engine.begin() as conn:  # back to the store as schema 6 left it
        # Steps after 9 are re-applied too (each is idempotent).
        conn.execute(delete(t.schema_version).where(t.schema_version.c.version >= 9))
        conn.execute(text("DROP TABLE run_keys"))
    assert upgrade(store.meta.engine) < 9
    assert store.meta.run_keys() == expected == _scanned(store)
