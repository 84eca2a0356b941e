"""The model server over real HTTP (uvicorn on a free 127.0.0.1 port, httpx): each payload
form of both protocols, every bad input's 4xx, health and metrics, the token, following an
alias, and the prediction log."""

from __future__ import annotations

import json

import pytest

import nbmlops

from .conftest import FEATURES, httpx, make_frame, wait_for


@pytest.fixture(scope="module")
def server(served_workspace):
    handle = nbmlops.serve("churn", max_body_bytes=64 * 1024, poll=0.2)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def rows():
    return make_frame(5, seed=1)


@pytest.fixture(scope="module")
def expected(served_workspace, rows):
    return nbmlops.get_model("churn", 1).predict(rows[FEATURES]).tolist()


def _bodies(rows):
    features = rows[FEATURES]
    return {
        "dataframe_split": {
            "json": {"dataframe_split": json.loads(features.to_json(orient="split", index=False))}
        },
        "dataframe_records": {"json": {"dataframe_records": features.to_dict("records")}},
        "instances_records": {"json": {"instances": features.to_dict("records")}},
        "instances_rows": {"json": {"instances": features.values.tolist()}},
        "inputs_columns": {"json": {"inputs": features.to_dict("list")}},
        "csv": {"content": features.to_csv(index=False), "headers": {"content-type": "text/csv"}},
    }


@pytest.mark.parametrize(
    "form",
    [
        "dataframe_split",
        "dataframe_records",
        "instances_records",
        "instances_rows",
        "inputs_columns",
        "csv",
    ],
)
def test_mlflow_payload_forms(client, rows, expected, form):
    response = client.post("/invocations", **_bodies(rows)[form])
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected}
    assert response.headers["x-model-version"] == "1"
    assert response.headers["x-request-id"]


def test_named_model_route_and_request_id(client, rows, expected):
    response = client.post(
        "/models/churn/invocations",
        json={"dataframe_records": rows[FEATURES].to_dict("records")},
        headers={"x-request-id": "my-request-1"},
    )
    assert response.json() == {"predictions": expected}
    assert response.headers["x-request-id"] == "my-request-1"


def test_open_inference_protocol(client, rows, expected):
    tensors = [
        {
            "name": c,
            "shape": [len(rows)],
            "datatype": "BYTES" if c == "plan" else "FP64",
            "data": rows[c].tolist(),
        }
        for c in FEATURES
    ]
    response = client.post("/v2/models/churn/infer", json={"id": "r-7", "inputs": tensors})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "r-7" and body["model_name"] == "churn"
    assert body["model_version"] == "1"
    assert body["outputs"][0]["data"] == expected
    assert body["outputs"][0]["shape"] == [len(rows)]
    # One 2-d tensor of all columns, in signature order.
    matrix = {
        "name": "input-0",
        "shape": [len(rows), 3],
        "datatype": "BYTES",
        "data": rows[FEATURES].values.tolist(),
    }
    response = client.post("/v2/models/churn/infer", json={"inputs": [matrix]})
    assert response.json()["outputs"][0]["data"] == expected
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    meta = client.get("/v2/models/churn").json()
    assert meta["versions"] == ["1"]
    assert [i["name"] for i in meta["inputs"]] == FEATURES
    assert client.get("/v2/models/churn/ready").json()["ready"] is True


def _record(rows, **changes):
    record = rows[FEATURES].iloc[0].to_dict()
    record["age"] = int(record["age"])
    record.update(changes)
    return {k: v for k, v in record.items() if v is not _DROP}


_DROP = object()


@pytest.mark.parametrize(
    ("case", "status", "column", "message"),
    [
        ("missing", 400, "income", "missing columns: 'income'"),
        ("mistyped", 400, "income", "'income' is"),
        ("unknown_column", 400, "shoe_size", "unknown column 'shoe_size'"),
        ("unknown_category", 400, None, "unknown categories"),
        ("nan", 400, None, "cannot predict"),
        ("int_as_float", 400, "age", "'age' is float64"),
        ("malformed_json", 400, None, "not valid JSON"),
        ("empty", 400, None, "empty"),
        ("no_key", 400, None, "exactly one of"),
        ("two_keys", 400, None, "exactly one of"),
        ("ragged", 400, None, "each row needs 3 values"),
        ("not_object", 400, None, "must be an object"),
        ("bad_csv", 400, "a", "unknown column 'a'"),
        ("content_type", 415, None, "unsupported content type"),
        ("too_large", 413, None, "limit of 65536"),
        ("too_large_chunked", 413, None, "limit of 65536"),
        ("unknown_model", 404, None, "no model 'nope'"),
        ("oip_bad_shape", 400, None, "do not fill shape"),
        ("oip_no_inputs", 400, None, "'inputs'"),
    ],
)
def test_bad_input_gets_a_4xx_naming_it(client, rows, case, status, column, message):
    path, kwargs = "/invocations", {}
    big = [_record(rows)] * 2000
    if case == "missing":
        kwargs = {"json": {"dataframe_records": [_record(rows, income=_DROP)]}}
    elif case == "mistyped":
        kwargs = {"json": {"dataframe_records": [_record(rows, income="lots")]}}
    elif case == "unknown_column":
        kwargs = {"json": {"dataframe_records": [_record(rows, shoe_size=43)]}}
    elif case == "unknown_category":
        kwargs = {"json": {"dataframe_records": [_record(rows, plan="platinum")]}}
    elif case == "nan":
        kwargs = {"json": {"dataframe_records": [_record(rows, income=None), _record(rows)]}}
    elif case == "int_as_float":
        kwargs = {"json": {"dataframe_records": [_record(rows, age=33.5)]}}
    elif case == "malformed_json":
        kwargs = {
            "content": b'{"dataframe_records": [',
            "headers": {"content-type": "application/json"},
        }
    elif case == "empty":
        kwargs = {"content": b"", "headers": {"content-type": "application/json"}}
    elif case == "no_key":
        kwargs = {"json": {"rows": []}}
    elif case == "two_keys":
        kwargs = {"json": {"instances": [], "inputs": []}}
    elif case == "ragged":
        kwargs = {"json": {"instances": [[1, 2.0, "basic"], [1, 2.0]]}}
    elif case == "not_object":
        kwargs = {"json": [1, 2, 3]}
    elif case == "bad_csv":
        kwargs = {"content": "a,b\n1,2\n", "headers": {"content-type": "text/csv"}}
    elif case == "content_type":
        kwargs = {"content": b"x", "headers": {"content-type": "application/xml"}}
    elif case == "too_large":
        kwargs = {"json": {"dataframe_records": big}}
    elif case == "too_large_chunked":
        payload = json.dumps({"dataframe_records": big}).encode()
        kwargs = {
            "content": (payload[i : i + 4096] for i in range(0, len(payload), 4096)),
            "headers": {"content-type": "application/json"},
        }
    elif case == "unknown_model":
        path, kwargs = "/models/nope/invocations", {"json": {"dataframe_records": [_record(rows)]}}
    elif case == "oip_bad_shape":
        path = "/v2/models/churn/infer"
        kwargs = {
            "json": {"inputs": [{"name": "age", "shape": [3], "datatype": "INT64", "data": [1]}]}
        }
    elif case == "oip_no_inputs":
        path, kwargs = "/v2/models/churn/infer", {"json": {"outputs": []}}
    response = client.post(path, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert message in body["message"], body
    if column is not None:
        assert body["column"] == column


def test_health_version_metrics(client, rows):
    client.post("/invocations", json={"dataframe_records": rows[FEATURES].to_dict("records")})
    assert client.get("/ping").status_code == 200
    health = client.get("/health").json()
    assert health["status"] == "ready"
    assert health["models"]["churn"]["version"] == 1
    assert client.get("/version").json() == {"nbmlops": nbmlops.__version__, "models": {"churn": 1}}
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'nbmlops_requests_total{arm="champion",model="churn",version="1"}' in text
    assert "nbmlops_request_latency_seconds_bucket" in text
    assert 'nbmlops_request_errors_total{model="churn",status="400"}' in text


def test_served_predictions_are_logged_with_their_request(served_workspace, client, rows):
    response = client.post(
        "/invocations",
        json={"dataframe_records": rows[FEATURES].head(1).to_dict("records")},
        headers={"x-request-id": "logged-once"},
    )
    assert response.status_code == 200

    def logged():
        log = nbmlops.prediction_log("churn")
        if "request_id" not in log:  # nothing logged yet
            return log.iloc[0:0]
        return log.loc[log["request_id"] == "logged-once"]

    wait_for(lambda: len(logged()) == 1, what="the logged request")
    found = logged()
    row = found.iloc[0]
    assert row["prediction_id"] == "logged-once"
    assert row["model_version"] == 1 and row["latency_ms"] > 0
    assert row["prediction"] == response.json()["predictions"][0]
    assert row["plan"] == rows["plan"].iloc[0]


def test_follows_an_alias_without_failing_a_request(served_workspace, rows):
    nbmlops.set_alias("churn", "live", 1)
    body = {"dataframe_records": rows[FEATURES].to_dict("records")}
    with (
        nbmlops.serve("churn@live", poll=0.2, log_predictions=False) as handle,
        httpx.Client(base_url=handle.url, timeout=30) as c,
    ):
        assert c.post("/invocations", json=body).headers["x-model-version"] == "1"
        nbmlops.set_alias("churn", "live", 2)
        seen = []

        def switched():
            response = c.post("/invocations", json=body)
            seen.append(response.status_code)
            return response.headers.get("x-model-version") == "2" and response

        response = wait_for(switched, timeout=20, what="the server to follow the alias")
        assert set(seen) == {200}
        assert (
            response.json()["predictions"]
            == nbmlops.get_model("churn", 2).predict(rows[FEATURES]).tolist()
        )


def test_public_address_needs_a_token(served_workspace, rows):
    with pytest.raises(nbmlops.ServingError, match="token"):
        nbmlops.serve("churn", host="0.0.0.0")
    body = {"dataframe_records": rows[FEATURES].head(1).to_dict("records")}
    with (
        nbmlops.serve("churn", token="s3cret", log_predictions=False) as handle,
        httpx.Client(base_url=handle.url, timeout=30) as c,
    ):
        assert c.get("/ping").status_code == 200  # liveness stays open
        denied = c.post("/invocations", json=body)
        assert denied.status_code == 401 and "Bearer" in denied.json()["message"]
        wrong = c.post("/invocations", json=body, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = c.post("/invocations", json=body, headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert c.get("/metrics").status_code == 401


def test_a_notebook_server_leaves_the_kernels_event_loop_alone(server, client):
    # uvicorn picks uvloop when it is installed (the serve extra installs it); in a kernel the
    # server runs beside the kernel's own asyncio loop, whose policy must stay asyncio's.
    import asyncio

    assert client.get("/ping").status_code == 200
    policy = asyncio.get_event_loop_policy()
    assert type(policy).__module__.split(".")[0] == "asyncio", type(policy)


def test_only_a_server_in_its_own_process_freezes_what_it_loaded(served_workspace, server):
    # `nbmlops serve` moves the loaded libraries and models out of the collector's way (full
    # collections over them stall requests); a server inside a kernel leaves the user's objects
    # to the collector.
    import gc
    import json
    import os

    from nbmlops.serving.app import OPTIONS_ENV, app_from_environment

    assert server.status()["churn"]["version"] >= 1 and gc.get_freeze_count() == 0
    os.environ[OPTIONS_ENV] = json.dumps({"models": ["churn"], "log_predictions": False})
    try:
        state = app_from_environment().state.serving
        state.refresh()
        assert state.ready and gc.get_freeze_count() > 0
    finally:
        del os.environ[OPTIONS_ENV]
        gc.unfreeze()
        state.close()


def test_serving_is_not_imported_by_nbmlops_or_help():
    import subprocess
    import sys

    code = (
        "import sys, nbmlops; from nbmlops.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('nbmlops.serving', 'starlette', "
        "'uvicorn', 'prometheus_client'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
