"""The REST API of the server extension, through a real jupyter_server (pytest-jupyter)."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

import nbmlops

from .conftest import CHAMPION_GATE

API = ("nbmlops", "api")


async def get_json(jp_fetch, *parts, **params):
    response = await jp_fetch(*API, *parts, params=params)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def error_of(call) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as info:
        await call
    response = info.value.response
    assert response.headers["Content-Type"].startswith("application/json")
    return info.value.code, json.loads(response.body)


async def post(jp_fetch, *parts, body):
    response = await jp_fetch(*API, *parts, method="POST", body=json.dumps(body))
    return json.loads(response.body)


# -- runs -------------------------------------------------------------------------------------


async def test_runs_list_newest_first_with_total(jp_fetch, filled):
    data = await get_json(jp_fetch, "runs")
    assert data["total"] == 9  # 7 runs + the two runs that trained the models
    names = [r["name"] for r in data["runs"]]
    assert names[:7] == ["tree-1", "tree-2", "run-6", "run-5", "run-4", "run-3", "run-2"]
    assert "metrics.accuracy" in data["columns"] and "params.C" in data["columns"]
    first = data["runs"][2]
    assert first["params.C"] == 0.1 and first["metrics.accuracy"] == pytest.approx(0.8)
    assert first["status"] == "FINISHED"


async def test_runs_filter_order_and_paging(jp_fetch, filled):
    data = await get_json(
        jp_fetch,
        "runs",
        filter="metrics.accuracy > 0.6 and params.penalty == 'l2'",
        order_by="metrics.accuracy DESC",
    )
    assert [r["name"] for r in data["runs"]] == ["run-5", "run-3"]
    assert data["total"] == 2
    page = await get_json(jp_fetch, "runs", experiment="baseline", offset=1, limit=2)
    assert page["total"] == 4 and page["offset"] == 1 and page["limit"] == 2
    assert [r["name"] for r in page["runs"]] == ["run-4", "run-2"]
    ordered = await get_json(jp_fetch, "runs", order_by="name ASC", limit=3)
    assert [r["name"] for r in ordered["runs"]] == ["run-0", "run-1", "run-2"]


async def test_runs_bad_filter_or_paging_is_a_json_400(jp_fetch, filled):
    code, body = await error_of(jp_fetch(*API, "runs", params={"filter": "metrics.acuracy > 1"}))
    assert code == 400 and body["error"] == "InvalidFilter"
    assert "metrics.accuracy" in body["message"]  # the "did you mean" of nbmlops
    code, body = await error_of(jp_fetch(*API, "runs", params={"limit": "ten"}))
    assert code == 400 and "limit" in body["message"]
    code, body = await error_of(jp_fetch(*API, "runs", params={"limit": "0"}))
    assert code == 400 and body["error"] == "InvalidFilter"


async def test_one_run_with_params_metrics_history_code_and_cell(jp_fetch, filled):
    run_id = filled["run_ids"][3]
    data = await get_json(jp_fetch, "runs", run_id[:10])  # a unique prefix works
    assert data["run_id"] == run_id and data["name"] == "run-3"
    assert data["experiment"] == "search" and data["status"] == "FINISHED"
    assert data["params"] == {"C": 0.1, "penalty": "l2"}
    assert data["metrics"]["accuracy"] == pytest.approx(0.65)
    assert [p["step"] for p in data["history"]["loss"]] == [0, 1, 2]
    assert data["history"]["loss"][0]["value"] == pytest.approx(1 / 4)
    code = "C = 0.1\naccuracy = round(0.5 + C / 100, 4)\n"
    assert data["code"] == code
    assert data["cell"] == "%%track --name run-3 --experiment search\n" + code


async def test_run_artifacts_are_listed(jp_fetch, filled):
    tree_run = nbmlops.get_model("iris", 1).run_id
    data = await get_json(jp_fetch, "runs", tree_run)
    sizes = {a["name"]: a["size"] for a in data["artifacts"]}
    assert sizes["models/iris/v1/model.skops"] > 0


async def test_unknown_run_is_a_json_404(jp_fetch, filled):
    code, body = await error_of(jp_fetch(*API, "runs", "feedbeef"))
    assert code == 404
    assert body["error"] == "RunNotFound" and "feedbeef" in body["message"]


async def test_experiments(jp_fetch, filled):
    data = await get_json(jp_fetch, "experiments")
    assert {e["name"]: e["runs"] for e in data} == {"baseline": 4, "search": 3, "models": 2}


# -- models -----------------------------------------------------------------------------------


async def test_models_versions_and_card(jp_fetch, filled):
    models = await get_json(jp_fetch, "models")
    assert [(m["name"], m["versions"], m["production_version"]) for m in models] == [("iris", 2, 1)]
    detail = await get_json(jp_fetch, "models", "iris")
    versions = {v["version"]: v for v in detail["versions"]}
    assert versions[1]["stage"] == "production" and versions[2]["stage"] is None
    assert versions[1]["metrics"]["accuracy"] == pytest.approx(0.9)
    assert detail["history"][0]["reason"] == "first model"
    card = await get_json(jp_fetch, "models", "iris", "versions", "2", "card")
    assert card["version"] == 2 and "models:/iris/2" in card["markdown"]
    assert card["html"].lstrip().startswith("<")


async def test_unknown_model_or_version_is_a_json_404(jp_fetch, filled):
    code, body = await error_of(jp_fetch(*API, "models", "nosuchmodel"))
    assert code == 404 and body["error"] == "ModelNotFound"
    code, body = await error_of(jp_fetch(*API, "models", "iris", "versions", "9", "card"))
    assert code == 404 and body["error"] == "ModelNotFound"
    code, body = await error_of(jp_fetch(*API, "models", "iris", "versions", "two", "card"))
    assert code == 400 and "integer" in body["message"]
    code, body = await error_of(jp_fetch(*API, "models", "9bad name"))
    assert code == 400 and body["error"] == "InvalidModel"


async def test_promote_then_rollback_move_production(jp_fetch, filled):
    moved = await post(
        jp_fetch, "models", "iris", "promote", body={"version": 2, "reason": "retrained"}
    )
    assert moved == {"name": "iris", "version": 2, "stage": "production", "aliases": []}
    assert nbmlops.get_model("iris").version == 2
    assert nbmlops.get_model("iris", 1).stage == "archived"
    history = nbmlops.model_history("iris")
    assert history["reason"].iloc[-1] == "retrained"
    back = await post(jp_fetch, "models", "iris", "rollback", body={"reason": "v2 misbehaves"})
    assert back["version"] == 1 and back["stage"] == "production"
    assert nbmlops.get_model("iris").version == 1


async def test_promote_to_staging_and_failing_gate(jp_fetch, filled):
    staged = await post(
        jp_fetch,
        "models",
        "iris",
        "promote",
        body={"version": "2", "to": "staging", "reason": "try"},
    )
    assert staged["stage"] == "staging"
    code, body = await error_of(
        jp_fetch(
            *API,
            "models",
            "iris",
            "promote",
            method="POST",
            body=json.dumps(
                {
                    "version": 2,
                    "reason": "beats champion?",
                    "gates": ["metrics.accuracy >= champion.metrics.accuracy"],
                }
            ),
        )
    )
    assert code == 409 and body["error"] == "GateFailed"
    assert nbmlops.get_model("iris").version == 1  # nothing changed


def registry_state(name: str = "iris"):
    """Everything a refused change must leave as it was: versions, history, last gates."""
    from nbmlops.store import get_store

    return (
        nbmlops.model_versions(name).fillna("").values.tolist(),
        nbmlops.model_history(name).fillna("").values.tolist(),
        get_store().models.last_gates(name),
    )


def promote_call(jp_fetch, body: dict, name: str = "iris"):
    return jp_fetch(*API, "models", name, "promote", method="POST", body=json.dumps(body))


async def test_model_detail_offers_last_gates_and_the_rollback_target(jp_fetch, filled):
    detail = await get_json(jp_fetch, "models", "iris")
    assert detail["last_gates"] == [CHAMPION_GATE]
    assert detail["production_version"] == 1
    assert detail["rollback_to"] is None  # v1 is the only version ever in production
    promoted = [h for h in detail["history"] if h["action"] == "promote"]
    assert promoted[0]["gates"] == [CHAMPION_GATE]
    await post(jp_fetch, "models", "iris", "promote", body={"version": 2, "reason": "no gates"})
    detail = await get_json(jp_fetch, "models", "iris")
    assert detail["rollback_to"] == 1 and detail["production_version"] == 2
    assert detail["last_gates"] == [CHAMPION_GATE]  # the last *gated* promotion
    assert detail["history"][0]["gates"] is None


async def test_promote_with_failing_gates_is_a_409_with_the_gate_table(jp_fetch, filled):
    before = registry_state()
    gates = ["metrics.accuracy > 0.5", CHAMPION_GATE]
    code, body = await error_of(
        promote_call(jp_fetch, {"version": 2, "reason": "retrained", "gates": gates})
    )
    assert code == 409 and body["error"] == "GateFailed"
    assert "1 of 2 gates failed" in body["message"]
    table = body["gates"]
    assert [row["gate"] for row in table] == gates
    assert [row["passed"] for row in table] == [True, False]
    assert table[1]["value"] == pytest.approx(0.8) and table[1]["threshold"] == pytest.approx(0.9)
    assert set(table[1]) == {"gate", "value", "threshold", "passed", "detail"}
    assert registry_state() == before  # nothing changed, not even the last gates


async def test_promote_with_passing_gates_moves_production_and_records_them(jp_fetch, filled):
    gates = ["metrics.accuracy >= 0.75", "metrics.accuracy >= champion.metrics.accuracy - 0.2"]
    moved = await post(
        jp_fetch, "models", "iris", "promote", body={"version": 2, "reason": "ok", "gates": gates}
    )
    assert moved["version"] == 2 and moved["stage"] == "production"
    assert nbmlops.get_model("iris").version == 2
    detail = await get_json(jp_fetch, "models", "iris")
    assert detail["last_gates"] == gates
    assert nbmlops.model_history("iris")["gates"].iloc[-1] == gates


async def test_unreadable_gates_are_a_400_and_change_nothing(jp_fetch, filled):
    before = registry_state()
    for gates in (["metrics.accuracy >>> 1"], ["metrics.nosuch > 1 +"], [3], {"a": 1}):
        code, body = await error_of(
            promote_call(jp_fetch, {"version": 2, "reason": "x", "gates": gates})
        )
        assert code == 400 and body["error"] == "InvalidModel", (gates, body)
    assert registry_state() == before


async def test_rollback_with_nothing_to_roll_back_to_is_a_409(jp_fetch, filled):
    before = registry_state()
    code, body = await error_of(
        jp_fetch(*API, "models", "iris", "rollback", method="POST", body='{"reason": "x"}')
    )
    assert code == 409 and body["error"] == "InvalidTransition"
    assert "nothing to roll back to" in body["message"]
    assert registry_state() == before


async def test_mutations_need_a_reason_and_a_known_version(jp_fetch, filled):
    def promote(body: str):
        return jp_fetch(*API, "models", "iris", "promote", method="POST", body=body)

    code, body = await error_of(promote(json.dumps({"version": 2})))
    assert code == 400 and "reason" in body["message"]
    code, body = await error_of(promote(json.dumps({"version": 2, "reason": "  "})))
    assert code == 400
    code, body = await error_of(promote("not json"))
    assert code == 400 and "JSON" in body["message"]
    code, body = await error_of(promote(json.dumps({"version": 7, "reason": "x"})))
    assert code == 404 and body["error"] == "ModelNotFound"
    code, body = await error_of(promote(json.dumps({"version": 2, "to": "moon", "reason": "x"})))
    assert code == 400
    code, body = await error_of(
        jp_fetch(*API, "models", "nosuch", "rollback", method="POST", body='{"reason": "x"}')
    )
    assert code == 404
    assert nbmlops.get_model("iris").version == 1


# -- deleting a version -------------------------------------------------------------------------


def delete_call(jp_fetch, version: str, body: dict | str | None, name: str = "iris", **kw):
    text = body if isinstance(body, str) else json.dumps(body or {})
    return jp_fetch(
        *API,
        "models",
        name,
        "versions",
        version,
        method="DELETE",
        body=text,
        allow_nonstandard_methods=True,  # tornado's client refuses a DELETE body otherwise
        **kw,
    )


async def test_delete_a_version_keeps_it_in_the_history(jp_fetch, filled):
    response = await delete_call(jp_fetch, "2", {"reason": "registered by mistake"})
    assert response.code == 200
    assert json.loads(response.body) == {"name": "iris", "version": 2, "deleted": True}
    detail = await get_json(jp_fetch, "models", "iris")
    assert [v["version"] for v in detail["versions"]] == [1]
    last = detail["history"][0]
    assert (last["version"], last["action"], last["reason"]) == (
        2,
        "delete",
        "registered by mistake",
    )
    # Deleted: a second deletion or its card is a 404 that says so.
    code, body = await error_of(delete_call(jp_fetch, "2", {"reason": "again"}))
    assert code == 404 and body["error"] == "ModelNotFound" and "deleted" in body["message"]
    code, body = await error_of(jp_fetch(*API, "models", "iris", "versions", "2", "card"))
    assert code == 404 and "deleted" in body["message"]


async def test_delete_of_production_or_an_aliased_version_is_a_409(jp_fetch, filled):
    nbmlops.set_alias("iris", "champion", 2)
    before = registry_state()
    code, body = await error_of(delete_call(jp_fetch, "1", {"reason": "x"}))
    assert code == 409 and body["error"] == "InvalidTransition"
    assert "production" in body["message"]
    code, body = await error_of(delete_call(jp_fetch, "2", {"reason": "x"}))
    assert code == 409 and body["error"] == "InvalidTransition"
    assert "champion" in body["message"]
    assert registry_state() == before


async def test_delete_of_an_unknown_version_or_without_a_reason_is_refused(jp_fetch, filled):
    before = registry_state()
    code, body = await error_of(delete_call(jp_fetch, "9", {"reason": "x"}))
    assert code == 404 and body["error"] == "ModelNotFound"
    code, body = await error_of(delete_call(jp_fetch, "1", {"reason": "x"}, name="nosuch"))
    assert code == 404 and body["error"] == "ModelNotFound"
    code, body = await error_of(delete_call(jp_fetch, "2", {}))
    assert code == 400 and "reason" in body["message"]
    code, body = await error_of(delete_call(jp_fetch, "2", "not json"))
    assert code == 400 and "JSON" in body["message"]
    code, body = await error_of(delete_call(jp_fetch, "two", {"reason": "x"}))
    assert code == 400 and "integer" in body["message"]
    code, _body = await error_of(
        delete_call(jp_fetch, "2", {"reason": "x"}, headers={"Authorization": ""})
    )
    assert code == 403
    assert registry_state() == before


# -- drift reports ----------------------------------------------------------------------------


async def test_reports_list_and_html(jp_fetch, filled):
    reports = await get_json(jp_fetch, "reports")
    assert [(r["report_id"], r["name"], r["dataset_drift"]) for r in reports] == [
        (filled["report_id"], "weekly-income", True)
    ]
    response = await jp_fetch(*API, "reports", filled["report_id"][:12], "html")
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Content-Security-Policy"] == "sandbox allow-scripts"
    assert b"income" in response.body


async def test_unknown_report_is_a_json_404(jp_fetch, filled):
    code, body = await error_of(jp_fetch(*API, "reports", "0123abcd", "html"))
    assert code == 404 and "0123abcd" in body["message"]


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["runs", "runs/abc", "experiments", "models", "models/iris", "reports"]
)
async def test_requests_without_the_token_are_refused(jp_fetch, filled, path):
    code, _body = await error_of(jp_fetch(*API, *path.split("/"), headers={"Authorization": ""}))
    assert code == 403


async def test_mutation_without_token_is_refused(jp_fetch, filled):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            *API,
            "models",
            "iris",
            "promote",
            method="POST",
            body=json.dumps({"version": 2, "reason": "x"}),
            headers={"Authorization": ""},
        )
    assert info.value.code == 403
    assert nbmlops.get_model("iris").version == 1


async def test_cookie_authenticated_mutation_needs_xsrf(
    jp_fetch, jp_base_url, jp_http_port, jp_auth_header, filled
):
    """A browser session (login cookie, no token) must also send the XSRF token on POST."""
    server = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    base = server + "nbmlops/api/"
    client = AsyncHTTPClient()
    # A token-authenticated request sets the login cookie; a page sets the _xsrf cookie.
    cookies = {}
    for url, headers in ((base + "models", jp_auth_header), (server + "login", {})):
        response = await client.fetch(url, headers=headers)
        for header in response.headers.get_list("Set-Cookie"):
            name, _, rest = header.partition("=")
            cookies[name] = rest.split(";")[0]
    login = {k: v for k, v in cookies.items() if k.startswith("username-")}
    assert login, "the server did not set a login cookie"
    xsrf = cookies["_xsrf"]
    cookie_header = "; ".join(f"{k}={v}" for k, v in {**login, "_xsrf": xsrf}.items())
    # The cookie alone authenticates a GET ...
    ok = await client.fetch(base + "models", headers={"Cookie": cookie_header})
    assert ok.code == 200
    body = json.dumps({"version": 2, "reason": "cookie only"})
    url = base + "models/iris/promote"
    # ... but a POST without the XSRF header is refused and changes nothing,
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(url, method="POST", body=body, headers={"Cookie": cookie_header})
    assert info.value.code == 403
    assert nbmlops.get_model("iris").version == 1
    # and one with it goes through (what ServerConnection.makeRequest sends).
    done = await client.fetch(
        url,
        method="POST",
        body=body,
        headers={"Cookie": cookie_header, "X-XSRFToken": urllib.parse.unquote(xsrf)},
    )
    assert done.code == 200
    assert nbmlops.get_model("iris").version == 2
    # The same holds for DELETE: refused without the XSRF header, done with it.
    url = base + "models/iris/versions/1"
    body = json.dumps({"reason": "cookie only"})
    with pytest.raises(HTTPClientError) as info:
        await client.fetch(
            url,
            method="DELETE",
            body=body,
            headers={"Cookie": cookie_header},
            allow_nonstandard_methods=True,
        )
    assert info.value.code == 403
    assert 1 in set(nbmlops.model_versions("iris")["version"])
    done = await client.fetch(
        url,
        method="DELETE",
        body=body,
        headers={"Cookie": cookie_header, "X-XSRFToken": urllib.parse.unquote(xsrf)},
        allow_nonstandard_methods=True,
    )
    assert done.code == 200
    assert set(nbmlops.model_versions("iris")["version"]) == {2}


def test_extension_points_and_config_file():
    from pathlib import Path

    from nbmlops.server import _jupyter_server_extension_points

    assert _jupyter_server_extension_points() == [{"module": "nbmlops.server"}]
    root = Path(__file__).resolve().parents[2]
    config = json.loads((root / "jupyter-config/server-config/nbmlops.json").read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"nbmlops.server": True}}}
