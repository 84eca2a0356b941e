"""Serving over the REST API: rollouts with their arms, shares and guard values, the abort
(as the authenticated Jupyter user, in the audit chain, refused without XSRF), and the
servers seen."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

import nbmlops
from nbmlops.serving.presence import Presence

from .test_approvals_api import API, HeaderIdentity, _json


@pytest.fixture
def jp_server_config():
    return {
        "ServerApp": {
            "jpserver_extensions": {"nbmlops.server": True},
            "identity_provider_class": HeaderIdentity,
        }
    }


async def _error(jp_fetch, *parts, **kwargs):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*parts, **kwargs)
    return info.value.code, json.loads(info.value.response.body)


async def test_rollouts_show_arms_and_guards_and_abort_as_the_jupyter_user(jp_fetch, filled):
    rollout = nbmlops.rollout(
        "iris", candidate=2, mode="canary", steps=[10, 100], guards=["error_rate < 0.01"]
    )
    [shown] = await _json(jp_fetch, *API, "rollouts", user="dana")
    assert (shown["id"], shown["status"], shown["mode"]) == (rollout.id, "running", "canary")
    assert shown["arms"] == [
        {"arm": "champion", "version": 1, "share": 90.0},
        {"arm": "candidate", "version": 2, "share": 10.0},
    ]
    assert shown["requests"] == 0 and shown["evaluated_at"]
    [guard] = shown["guards"]
    assert guard["gate"] == "error_rate < 0.01" and guard["passed"] is True
    assert guard["value"] is None and guard["detail"]

    # Bad requests answer 400, an unknown rollout 404; nothing changes.
    code, body = await _error(
        jp_fetch, *API, "rollouts", str(rollout.id), "abort", method="POST", body="{}"
    )
    assert code == 400 and "reason" in body["message"]
    code, _ = await _error(
        jp_fetch, *API, "rollouts", "x", "abort", method="POST", body='{"reason": "r"}'
    )
    assert code == 400
    code, body = await _error(
        jp_fetch, *API, "rollouts", "999999", "abort", method="POST", body='{"reason": "r"}'
    )
    assert code == 404 and body["error"] == "RolloutNotFound"
    assert rollout.state == "running"

    done = await _json(
        jp_fetch,
        *API,
        "rollouts",
        str(rollout.id),
        "abort",
        user="dana",
        method="POST",
        body={"reason": "latency looks off"},
    )
    assert done["status"] == "aborted" and done["share"] == 0
    assert done["arms"][1] == {"arm": "candidate", "version": 2, "share": 0.0}
    assert done["reason"] == "aborted by dana: latency looks off"
    assert rollout.state == "aborted"
    [event] = nbmlops.audit_log("iris", kind="rollout.abort")["payload"].tolist()
    assert json.loads(event["detail"])["reason"] == "aborted by dana: latency looks off"
    assert nbmlops.verify_audit().ok
    # Aborting an ended rollout is a conflict; the active list is empty, "all" keeps it.
    code, body = await _error(
        jp_fetch,
        *API,
        "rollouts",
        str(rollout.id),
        "abort",
        method="POST",
        body='{"reason": "again"}',
    )
    assert code == 409 and "already aborted" in body["message"]
    assert await _json(jp_fetch, *API, "rollouts") == []
    [ended] = await _json(jp_fetch, *API, "rollouts", status="all", model="iris")
    assert ended["id"] == rollout.id and ended["guards"] is None


async def test_abort_from_a_browser_session_needs_xsrf(
    jp_fetch, jp_base_url, jp_http_port, jp_auth_header, filled
):
    rollout = nbmlops.rollout("iris", candidate=2, mode="ab")
    server = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    client = AsyncHTTPClient()
    cookies = {}
    for url, sent in ((server + "nbmlops/api/servers", jp_auth_header), (server + "login", {})):
        response = await client.fetch(url, headers=sent)
        for header in response.headers.get_list("Set-Cookie"):
            name, _, rest = header.partition("=")
            cookies[name] = rest.split(";")[0]
    xsrf = cookies["_xsrf"]
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items() if k.startswith(("username-", "_x")))
    url = server + f"nbmlops/api/rollouts/{rollout.id}/abort"
    body = '{"reason": "from the sidebar"}'
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(url, method="POST", body=body, headers={"Cookie": cookie})
    assert info.value.code == 403 and rollout.state == "running"
    headers = {"Cookie": cookie, "X-XSRFToken": urllib.parse.unquote(xsrf)}
    done = await client.fetch(url, method="POST", body=body, headers=headers)
    assert done.code == 200 and rollout.state == "aborted"


async def test_servers_seen_live_and_gone(jp_fetch, filled):
    assert await _json(jp_fetch, *API, "servers") == []
    live = Presence("live-server", poll=1.0, started_at=time.time())
    live.url = "http://127.0.0.1:5000"
    gone = Presence("gone-server", poll=1.0, started_at=time.time() - 3600)
    status = {
        "iris": {
            "ref": "models:/iris@production",
            "version": 1,
            "rollout": {"id": 7, "mode": "canary", "candidate": 2, "share": 20.0},
        }
    }
    assert live.beat(status) and gone.beat({"iris": {"ref": "iris", "version": 1}}, 0.0 + 1)
    try:
        shown = {s["id"]: s for s in await _json(jp_fetch, *API, "servers")}
        assert shown["live-server"]["status"] == "live"
        assert shown["gone-server"]["status"] == "gone"
        assert shown["live-server"]["url"] == "http://127.0.0.1:5000"
        assert shown["live-server"]["models"] == [{"name": "iris", **status["iris"]}]
    finally:
        live.leave()
        gone.leave()
    assert await _json(jp_fetch, *API, "servers") == []
