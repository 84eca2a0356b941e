"""A run whose end cannot be written loses nothing.

When the final write fails (disk full, database error), the buffered metric values stay
buffered, the run stays active, the error is a ``StoreError`` saying what to do, and a retry
of ``end()`` writes every value. Shown with a really full tmpfs (when this process may mount
one), with SQLite's own page limit (SQLITE_FULL, always) and with a database that refuses the
write (a trigger, on SQLite and PostgreSQL).
"""

from __future__ import annotations

import contextlib
import uuid

import pytest
from sqlalchemy import event, text

import nbmlops
from nbmlops.errors import StoreError, StoreFull
from nbmlops.store import get_store
from nbmlops.tracking._writer import writer
from tests.store._disk import fill, small_tmpfs  # noqa: F401 - a fixture

N_VALUES = 5_000


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _pending(run) -> int:
    """Values of ``run`` waiting in the background writer's buffer."""
    return sum(r[0] == run.run_id for rows in list(writer._pending.values()) for r in rows)


def _quiet_writer() -> None:
    # The background writer must not flush the values first: end() is what writes them.
    nbmlops.configure(flush_s=3600, heartbeat_s=3600, stale_after_s=4 * 3600)


def _log_values(run) -> None:
    for step in range(N_VALUES):
        nbmlops.log_metric("loss", step / N_VALUES, step=step)
    assert _pending(run) == N_VALUES


def _check_kept_then_written(run, failure, fix) -> StoreError:
    with pytest.raises(StoreError) as caught, failure():
        run.end()
    assert nbmlops.active_run() == run  # still the active run
    assert _pending(run) == N_VALUES  # every value still buffered
    assert run.status == "RUNNING"
    fix()
    run.end()  # the retry
    assert nbmlops.active_run() is None
    assert run.status == "FINISHED"
    history = run.metric_history("loss")
    assert len(history) == N_VALUES
    assert list(history["step"]) == list(range(N_VALUES))
    assert run.metrics == {"loss": (N_VALUES - 1) / N_VALUES}
    assert _pending(run) == 0
    return caught.value


@contextlib.contextmanager
def _sqlite_size_capped(engine):
    """SQLite's ``max_page_count`` at the current size: any new page fails with SQLITE_FULL,
    the error SQLite gives on a full disk."""

    def cap(dbapi_conn, _record, _proxy):
        dbapi_conn.execute("PRAGMA max_page_count = 1")  # clamps to the current page count

    event.listen(engine, "checkout", cap)
    try:
        yield
    finally:
        event.remove(engine, "checkout", cap)
        engine.dispose()  # pooled connections keep the cap; new ones do not


def test_end_on_a_full_sqlite_database_keeps_every_value_for_the_retry(workspace):
    _quiet_writer()
    run = nbmlops.start_run(name="full")
    _log_values(run)
    engine = get_store().meta.engine
    error = _check_kept_then_written(run, lambda: _sqlite_size_capped(engine), lambda: None)
    assert isinstance(error, StoreFull) and isinstance(error, OSError)
    assert "disk space" in str(error) and "retry" in str(error)


@contextlib.contextmanager
def _refusing_metric_writes(engine):
    """A trigger that makes the database itself refuse every new metric value."""
    name = f"refuse_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'metric writes refused by the test'; END $$ "
                    "LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON metrics "
                    f"FOR EACH ROW EXECUTE FUNCTION {name}()"
                )
            )
        else:
            conn.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON metrics BEGIN "
                    "SELECT RAISE(ABORT, 'metric writes refused by the test'); END"
                )
            )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(
                    f"DROP TRIGGER {name}"
                    + (" ON metrics" if engine.dialect.name == "postgresql" else "")
                )
            )
            if engine.dialect.name == "postgresql":
                conn.execute(text(f"DROP FUNCTION {name}()"))


def test_end_after_a_database_error_keeps_every_value_for_the_retry(backend):
    _quiet_writer()
    with pytest.raises(StoreError) as caught, nbmlops.start_run(name="refused") as run:
        _log_values(run)
        engine = get_store().meta.engine
        refusing = _refusing_metric_writes(engine)
        refusing.__enter__()
    # The with block's end failed: the run is still active, every value still buffered.
    assert "refused by the test" in str(caught.value)
    assert not isinstance(caught.value, StoreFull)
    assert nbmlops.active_run() == run
    assert _pending(run) == N_VALUES
    assert run.status == "RUNNING"
    refusing.__exit__(None, None, None)
    nbmlops.end_run()
    assert run.status == "FINISHED"
    history = run.metric_history("loss")
    assert list(history["step"]) == list(range(N_VALUES))


def test_a_child_whose_parent_cannot_end_stays_open_with_it(workspace):
    _quiet_writer()
    parent = nbmlops.start_run(name="parent")
    child = nbmlops.start_run(name="child")
    _log_values(child)
    engine = get_store().meta.engine
    with pytest.raises(StoreFull), _sqlite_size_capped(engine):
        parent.end()
    assert nbmlops.active_run() == child
    assert _pending(child) == N_VALUES
    parent.end()
    assert nbmlops.active_run() is None
    assert (child.status, parent.status) == ("FINISHED", "FINISHED")
    assert len(child.metric_history("loss")) == N_VALUES


def test_end_on_a_really_full_disk_keeps_every_value_for_the_retry(workspace, small_tmpfs):  # noqa: F811
    nbmlops.configure(home=small_tmpfs / "workspace")
    _quiet_writer()
    run = nbmlops.start_run(name="tmpfs")
    _log_values(run)
    filler = small_tmpfs / "filler"

    @contextlib.contextmanager
    def disk_full():
        fill(small_tmpfs)
        yield

    error = _check_kept_then_written(run, disk_full, lambda: filler.unlink())
    assert isinstance(error, StoreFull)
