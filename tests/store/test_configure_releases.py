"""``nbmlops.configure`` releases the store it replaces: the object is collected, its engine
disposed and its database files closed, once no open run needs it any more."""

from __future__ import annotations

import gc
import os
import weakref
from pathlib import Path

import pytest
from sqlalchemy import event

import nbmlops
from nbmlops.store import get_store


@pytest.fixture(autouse=True)
def _outside_any_git_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _open_files_under(folder: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (the listing's own descriptor)
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_each_configure_releases_the_previous_store(workspace, tmp_path):
    homes = tmp_path / "homes"
    refs: list[weakref.ref] = []
    disposed: list[int] = []
    for i in range(60):
        nbmlops.configure(home=homes / f"ws{i}")
        with nbmlops.start_run(name=f"r{i}"):
            nbmlops.log_metric("m", float(i))
        store = get_store()
        refs.append(weakref.ref(store))
        event.listen(store.meta.engine, "engine_disposed", lambda _e, i=i: disposed.append(i))
        del store
    nbmlops.configure(reset=True)
    gc.collect()
    alive = [i for i, ref in enumerate(refs) if ref() is not None]
    assert alive == []
    assert sorted(set(disposed)) == list(range(60))
    assert _open_files_under(homes) == []


def test_a_run_open_across_configure_keeps_its_store_until_it_ends(workspace, tmp_path):
    nbmlops.configure(home=tmp_path / "first")
    run = nbmlops.start_run(name="spans")
    first = weakref.ref(get_store())
    nbmlops.configure(home=tmp_path / "second")
    nbmlops.log_metric("after", 1.0)  # still the active run, in the first workspace
    gc.collect()
    assert first() is not None
    run.end()
    assert run.metrics == {"after": 1.0}
    del run
    gc.collect()
    assert first() is None
    assert nbmlops.runs().empty  # the second workspace has no runs
