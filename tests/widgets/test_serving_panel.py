"""The panel's Serving tab: the servers seen (live or gone, what each serves, its rollout
arm) beside the rollouts, and the abort that ends a rollout from the tab."""

from __future__ import annotations

import time

import nbmlops
from nbmlops.serving.presence import GONE_AFTER, Presence
from nbmlops.widgets.serving_panel import ServingPanel


def test_serving_tab_lists_servers_and_aborts(registry):
    rollout = nbmlops.rollout("iris", candidate=2, mode="canary", steps=[20, 100])
    live = Presence("tab-live", poll=1.0, started_at=time.time())
    live.url = "http://127.0.0.1:5001"
    gone = Presence("tab-gone", poll=1.0, started_at=time.time() - 600)
    gone.url = "http://10.0.0.9:5000"
    serving = {
        "ref": "models:/iris@production",
        "version": 1,
        "rollout": {"id": rollout.id, "mode": "canary", "candidate": 2, "share": 20.0},
    }
    live.beat({"iris": serving})
    gone.beat({"iris": {"ref": "iris", "version": None}}, time.time() - GONE_AFTER * 5 - 1)
    try:
        tab = ServingPanel()
        servers = tab.servers.value
        assert "http://127.0.0.1:5001" in servers and "v1 + v2 at 20%" in servers
        assert "http://10.0.0.9:5000" in servers and "loading" in servers
        assert servers.count(">live<") == 1 and servers.count(">gone<") == 1
        tab.rollout.value = rollout.id  # picked, as in the tab
        tab.act("abort")
        assert rollout.state == "aborted"
        assert "aborted" in tab.message.value and tab.rollout.value is None
        assert "http://127.0.0.1:5001" in tab.to_html()
    finally:
        live.leave()
        gone.leave()
    tab.refresh()
    assert "no model server seen" in tab.servers.value
