"""Feature-store fixtures: a FeatureStore in a fresh workspace, a real redis-server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from nbmlops.features import FeatureStore


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A redis-server started for the session on a random loopback port (no persistence)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(
            "redis-server is not installed (Debian: apt-get install redis-server); "
            "the Redis online store tests need a real server"
        )
    pytest.importorskip("redis", reason="pip install 'nbmlops[redis]' for the Redis tests")
    folder = tmp_path_factory.mktemp("redis")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 120  # a busy machine starts it slowly
    while True:
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    client.close()
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=60)


@pytest.fixture
def fs(backend):
    """A feature store of the fresh workspace (SQLite online store), its metadata on SQLite
    and, with NBMLOPS_TEST_POSTGRES_URL set, on a real PostgreSQL server."""
    store = FeatureStore()
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "redis"])
def online_fs(request, backend):
    """The same tests on the SQLite and the Redis online store (metadata on every backend)."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        import redis

        redis.Redis.from_url(url).flushdb()
        store = FeatureStore(online=url)
    else:
        store = FeatureStore()
    yield store
    store.close()
