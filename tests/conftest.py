"""Shared fixtures: an isolated workspace per test, store backends, one IPython shell."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

import nbmlops

POSTGRES_URL = os.environ.get("NBMLOPS_TEST_POSTGRES_URL")
DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"


def screenshot_dir(tmp_path: Path) -> Path:
    """Where browser tests save their screenshots: docs/img when ``NBMLOPS_UPDATE_SCREENSHOTS=1``
    (to refresh the documentation's pictures), else a temporary folder, so that running the
    suite never changes tracked files."""
    folder = DOCS_IMG if os.environ.get("NBMLOPS_UPDATE_SCREENSHOTS") == "1" else tmp_path / "img"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _clear_nbmlops_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("NBMLOPS_") and name != "NBMLOPS_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)


def _end_leftover_runs() -> None:
    while nbmlops.active_run() is not None:
        nbmlops.end_run("KILLED")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh SQLite workspace in a temporary folder, as ``NBMLOPS_HOME``."""
    _clear_nbmlops_env(monkeypatch)
    home = tmp_path / "workspace"
    monkeypatch.setenv("NBMLOPS_HOME", str(home))
    nbmlops.configure(reset=True)
    yield home
    _end_leftover_runs()
    nbmlops.configure(reset=True)


@pytest.fixture
def postgres_database():
    """A new, empty PostgreSQL database on the server of NBMLOPS_TEST_POSTGRES_URL."""
    if not POSTGRES_URL:
        pytest.skip("set NBMLOPS_TEST_POSTGRES_URL to run the suite against PostgreSQL")
    from sqlalchemy import create_engine, make_url, text

    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"nbmlops_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.set(database=name).render_as_string(hide_password=False)
    nbmlops.configure(reset=True)  # closes pooled connections to the database
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on SQLite and, when configured, on a real PostgreSQL server."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_database")
        monkeypatch.setenv("NBMLOPS_STORE_URL", url)
        nbmlops.configure(reset=True)
    return request.param


@pytest.fixture(scope="session")
def ip():
    """The one IPython InteractiveShell of the test session, with nbmlops loaded."""
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "nbmlops")
    return shell


@pytest.fixture
def shell(ip, workspace):
    """The IPython shell with a clean user namespace and a fresh workspace."""
    ip.reset(new_session=False)
    yield ip
    ip.reset(new_session=False)


@pytest.fixture(scope="session")
def dask_client():
    """One Dask ``LocalCluster`` of two single-threaded worker processes per test process
    (starting a cluster takes seconds): the scale-out engine of out-of-core data tests."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
