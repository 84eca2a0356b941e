"""Approvals over the REST API: the authenticated Jupyter user is the identity, four eyes hold
across faces, and a browser session cannot approve without the XSRF token.

The server here identifies users as JupyterHub does, by an identity provider: this one reads
the user name from a header of a token-authenticated request. With jupyter_server's default
shared token, which names nobody, changes are recorded as the server process's user."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from jupyter_server.auth.identity import IdentityProvider, User
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

import nbmlops

API = ("nbmlops", "api")


class HeaderIdentity(IdentityProvider):
    """A token-authenticated request names its user in ``X-Test-User``."""

    async def get_user(self, handler):
        user = await super().get_user(handler)
        name = handler.request.headers.get("X-Test-User")
        if user is None or not name:
            return user
        return User(username=name, name=name, display_name=name)


@pytest.fixture
def jp_server_config():
    return {
        "ServerApp": {
            "jpserver_extensions": {"nbmlops.server": True},
            "identity_provider_class": HeaderIdentity,
        }
    }


async def _json(jp_fetch, *parts, user=None, method="GET", body=None, **params):
    kwargs = {"method": method, "params": params}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    if user is not None:
        kwargs["headers"] = {"X-Test-User": user}
    response = await jp_fetch(*parts, **kwargs)
    return json.loads(response.body)


async def test_rest_approval_uses_the_jupyter_user(jp_fetch, filled, monkeypatch):
    me = await _json(jp_fetch, "api", "me", user="dana")
    assert me["identity"]["username"] == "dana"
    monkeypatch.setenv("NBMLOPS_USER", "alice")
    nbmlops.set_policy("iris", production={"approvals": 1, "separate_approver": True})
    policy = await _json(jp_fetch, *API, "models", "iris", "policy", user="dana")
    assert policy["policy"]["production"]["separate_approver"] is True
    # Requested from the sidebar: by the Jupyter user, not by NBMLOPS_USER of the server.
    answer = await _json(
        jp_fetch,
        *API,
        "models",
        "iris",
        "promote",
        user="dana",
        method="POST",
        body={"version": 2, "reason": "sidebar"},
    )
    request = answer["request"]
    assert request["status"] == "pending" and request["requested_by"] == "dana"
    assert (answer["name"], answer["version"], answer["stage"]) == ("iris", 2, None)
    assert nbmlops.get_model("iris").version == 1
    listed = await _json(jp_fetch, *API, "requests", user="dana", model="iris")
    assert [r["id"] for r in listed] == [request["id"]]
    # Dana cannot approve her own request (four eyes) …
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            *API,
            "requests",
            str(request["id"]),
            "approve",
            method="POST",
            body="{}",
            headers={"X-Test-User": "dana"},
        )
    assert info.value.code == 409
    assert "separate approver" in json.loads(info.value.response.body)["message"]
    assert request["id"] in set(nbmlops.promotion_requests("iris")["id"])
    # … Erik can, over REST, whatever NBMLOPS_USER of the server process says.
    done = await _json(
        jp_fetch,
        *API,
        "requests",
        str(request["id"]),
        "approve",
        user="erik",
        method="POST",
        body={"reason": "ok"},
    )
    assert done["status"] == "approved" and done["approvals"] == ["erik"]
    assert nbmlops.get_model("iris").version == 2
    assert nbmlops.model_history("iris")["user"].iloc[-1] == "erik"
    assert nbmlops.audit_log("iris", kind="request.approval")["actor"].tolist() == ["erik"]


async def test_cookie_session_cannot_approve_without_xsrf(
    jp_fetch, jp_base_url, jp_http_port, jp_auth_header, filled, monkeypatch
):
    monkeypatch.setenv("NBMLOPS_USER", "alice")
    nbmlops.set_policy("iris", production={"approvals": 1})
    request = nbmlops.promote("iris", 2, reason="needs approval")
    server = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    base = server + "nbmlops/api/"
    client = AsyncHTTPClient()
    cookies = {}
    headers = {**jp_auth_header, "X-Test-User": "erik"}
    for url, sent in ((base + "requests", headers), (server + "login", {})):
        response = await client.fetch(url, headers=sent)
        for header in response.headers.get_list("Set-Cookie"):
            name, _, rest = header.partition("=")
            cookies[name] = rest.split(";")[0]
    login = {k: v for k, v in cookies.items() if k.startswith("username-")}
    assert login, "the server did not set a login cookie"
    xsrf = cookies["_xsrf"]
    cookie_header = "; ".join(f"{k}={v}" for k, v in {**login, "_xsrf": xsrf}.items())
    url = base + f"requests/{request.id}/approve"
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(url, method="POST", body="{}", headers={"Cookie": cookie_header})
    assert info.value.code == 403
    assert request.status == "pending" and nbmlops.get_model("iris").version == 1
    done = await client.fetch(
        url,
        method="POST",
        body="{}",
        headers={"Cookie": cookie_header, "X-XSRFToken": urllib.parse.unquote(xsrf)},
    )
    assert done.code == 200 and request.status == "approved"
    assert nbmlops.get_model("iris").version == 2


async def test_a_shared_token_names_nobody(jp_fetch, filled, monkeypatch):
    # jupyter_server's anonymous token user changes per session: the server's user is kept,
    # so the requester cannot approve their own request by opening another session.
    monkeypatch.setenv("NBMLOPS_USER", "alice")
    nbmlops.set_policy("iris", production={"approvals": 1, "separate_approver": True})
    request = nbmlops.promote("iris", 2, reason="alice asks")
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*API, "requests", str(request.id), "approve", method="POST", body="{}")
    assert info.value.code == 409
    assert request.status == "pending"
