"""Each thread and each asyncio task has its own active-run stack.

Users train in threads (and joblib's threading backend): runs opened in one thread must never
become the parent, or receive the metrics, of runs in another. A new thread starts with no
active run; an asyncio task starts with the runs active where it was created.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import nbmlops
from nbmlops.errors import NoActiveRun


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _run_threads(n: int, target) -> list[BaseException]:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return errors


def test_eight_threads_of_twenty_runs_keep_their_own_parents_and_metrics(backend):
    n_threads, n_runs = 8, 20
    opened: dict[str, tuple[int, int, str | None]] = {}  # run id -> (thread, index, parent)
    lock = threading.Lock()

    def body(t: int) -> None:
        with nbmlops.start_run(name=f"outer-{t}") as outer:
            with lock:
                opened[outer.run_id] = (t, -1, None)
            for i in range(n_runs):
                with nbmlops.start_run(name=f"t{t}-r{i}") as run:
                    with lock:
                        opened[run.run_id] = (t, i, outer.run_id)
                    nbmlops.log_param("thread", t)
                    nbmlops.log_param("index", i)
                    for step in range(5):
                        nbmlops.log_metric("value", t * 1000 + i, step=step)
                    nbmlops.log_metrics({f"only_t{t}_r{i}": 1.0})
                assert nbmlops.active_run() == outer  # back to this thread's own outer run
            nbmlops.log_metric("outer", float(t))
        assert nbmlops.active_run() is None

    assert _run_threads(n_threads, body) == []
    assert len(opened) == n_threads * (n_runs + 1)
    frame = nbmlops.runs(limit=None)
    assert len(frame) == n_threads * (n_runs + 1)
    assert set(frame["status"]) == {"FINISHED"}
    for row in frame.itertuples():
        t, i, expected_parent = opened[row.run_id]
        run = nbmlops.get_run(row.run_id)
        assert run.parent_run_id == expected_parent, row.name
        if i < 0:
            assert run.metrics == {"outer": float(t)}
            assert run.params == {}
            continue
        assert run.params == {"thread": t, "index": i}
        assert run.metrics == {"value": float(t * 1000 + i), f"only_t{t}_r{i}": 1.0}
        history = run.metric_history("value")
        assert list(history["step"]) == [0, 1, 2, 3, 4]
        assert set(history["value"]) == {float(t * 1000 + i)}


def test_a_new_thread_starts_without_the_callers_run(workspace):
    seen: list[object] = []
    with nbmlops.start_run(name="main") as main:
        thread = threading.Thread(target=lambda: seen.append(nbmlops.active_run()))
        thread.start()
        thread.join(timeout=60)
        assert seen == [None]

        def log_without_run():
            with pytest.raises(NoActiveRun):
                nbmlops.log_metric("loss", 1.0)
            # The documented ways to log into the caller's run from a worker thread:
            main.log_metric("from_worker", 1.0)  # the run object works from any thread
            with nbmlops.start_run(name="child", parent_run_id=main.run_id) as child:
                nbmlops.log_metric("loss", 0.5)
            return child.run_id

        with ThreadPoolExecutor(2) as pool:  # joblib's threading backend works the same way
            child_id = pool.submit(log_without_run).result(timeout=120)
        assert nbmlops.active_run() == main
    assert main.metrics == {"from_worker": 1.0}
    child = nbmlops.get_run(child_id)
    assert child.parent_run_id == main.run_id
    assert child.metrics == {"loss": 0.5}


def test_a_thread_given_the_callers_context_sees_its_run(workspace):
    seen: list[object] = []
    with nbmlops.start_run(name="main") as main:
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=context.run, args=(lambda: seen.append(nbmlops.active_run()),)
        )
        thread.start()
        thread.join(timeout=60)
    assert seen == [main]


def test_asyncio_tasks_inherit_the_run_they_were_created_in_and_nest_their_own(workspace):
    async def task(i: int) -> tuple[str | None, str, str | None]:
        inherited = nbmlops.active_run()
        with nbmlops.start_run(name=f"task-{i}") as run:
            await asyncio.sleep(0.01)  # interleave with the other tasks
            nbmlops.log_metric("task", float(i))
            await asyncio.sleep(0.01)
            assert nbmlops.active_run() == run
        return (inherited.run_id if inherited else None, run.run_id, run.parent_run_id)

    async def main() -> tuple[str, list]:
        with nbmlops.start_run(name="parent") as parent:
            results = await asyncio.gather(*(task(i) for i in range(6)))
            assert nbmlops.active_run() == parent
        return parent.run_id, results

    parent_id, results = asyncio.run(main())
    for i, (inherited, run_id, parent) in enumerate(results):
        assert inherited == parent_id
        assert parent == parent_id
        assert nbmlops.get_run(run_id).metrics == {"task": float(i)}


def test_a_run_ended_in_another_thread_is_no_longer_active_here(workspace):
    run = nbmlops.start_run(name="handed-over")
    thread = threading.Thread(target=run.end)
    thread.start()
    thread.join(timeout=60)
    assert run.status == "FINISHED"
    assert nbmlops.active_run() is None


def test_joblib_threads_start_without_the_callers_run_and_nest_by_parent_id(workspace):
    joblib = pytest.importorskip("joblib")

    def work(i: int, parent_id: str) -> tuple[object, str]:
        seen = nbmlops.active_run()
        with nbmlops.start_run(name=f"job-{i}", parent_run_id=parent_id) as child:
            nbmlops.log_metric("job", float(i))
        return seen, child.run_id

    with nbmlops.start_run(name="sweep") as parent:
        done = joblib.Parallel(n_jobs=2, backend="threading")(
            joblib.delayed(work)(i, parent.run_id) for i in range(4)
        )
        assert nbmlops.active_run() == parent
    assert [seen for seen, _ in done] == [None] * 4
    for i, (_, child_id) in enumerate(done):
        child = nbmlops.get_run(child_id)
        assert child.parent_run_id == parent.run_id
        assert child.metrics == {"job": float(i)}
    assert parent.metrics == {}
