"""The servers seen: a running server records itself in the store with what it serves (and
its rollout arms), refreshes that record, shows as gone when its heartbeats stop, and is
forgotten when it stops cleanly."""

from __future__ import annotations

import time

import nbmlops
from nbmlops.registry._context import current_store
from nbmlops.serving.presence import GONE_AFTER, Presence

from .conftest import wait_for


def _live(url: str):
    frame = nbmlops.servers()
    return frame.loc[(frame["url"] == url) & (frame["status"] == "live")]


def test_a_server_is_seen_with_its_versions_and_rollout_arms_then_forgotten(served_workspace):
    server = nbmlops.serve("churn", poll=0.1)
    try:
        rows = wait_for(
            lambda: (lambda f: f if len(f) and f["version"].iloc[0] == 1 else None)(
                _live(server.url)
            ),
            what="the server in nbmlops.servers()",
        )
        row = rows.iloc[0]
        assert (row["name"], row["ref"], row["host"]) == (
            "churn",
            "models:/churn@production",
            __import__("socket").gethostname(),
        )
        assert row["pid"] == __import__("os").getpid()
        assert row["started_at"] <= row["last_seen"]
        rollout = nbmlops.rollout("churn", candidate=2, mode="canary", steps=[20, 100])
        try:
            # A change of what is served is written on the next poll, not after a heartbeat.
            row = wait_for(
                lambda: (lambda f: f.iloc[0] if len(f) and f["share"].iloc[0] == 20 else None)(
                    _live(server.url)
                ),
                what="the rollout arm in nbmlops.servers()",
            )
            assert (row["rollout"], row["mode"], row["candidate"]) == (rollout.id, "canary", 2)
        finally:
            rollout.abort(reason="test over")
    finally:
        server.stop()
    assert server.url not in set(nbmlops.servers()["url"])


def test_a_server_that_stopped_beating_shows_as_gone(served_workspace):
    presence = Presence("test-gone-server", poll=1.0, started_at=time.time() - 100)
    presence.url = "http://127.0.0.1:1"
    status = {"churn": {"ref": "models:/churn@production", "version": 1}}
    now = time.time()
    assert presence.beat(status, now - GONE_AFTER * presence.heartbeat_s - 1)
    try:
        row = nbmlops.servers().set_index("server").loc["test-gone-server"]
        assert row["status"] == "gone"
        # A beat within the interval with nothing changed writes nothing...
        assert not presence.beat(status, now - GONE_AFTER * presence.heartbeat_s)
        # ...one after it does, and the server is live again.
        assert presence.beat(status, now)
        row = nbmlops.servers().set_index("server").loc["test-gone-server"]
        assert row["status"] == "live"
    finally:
        presence.leave()
    assert "test-gone-server" not in {r["id"] for r in current_store().servers.list()}


def test_the_cli_server_is_seen_at_its_url_and_forgotten_on_sigterm(served_workspace):
    import signal

    from .test_sigterm import start_cli_server

    proc, url = start_cli_server("churn", "--poll", "0.2")
    try:
        row = wait_for(
            lambda: (lambda f: f.iloc[0] if len(f) and f["version"].iloc[0] == 1 else None)(
                _live(url)
            ),
            what="the CLI server in nbmlops.servers()",
        )
        assert row["pid"] == proc.pid and row["name"] == "churn"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
    # uvicorn re-raises SIGTERM once drained (exit -15); the lifespan's close ran before it.
    assert url not in set(nbmlops.servers()["url"])
