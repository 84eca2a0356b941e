"""Every request a user can get wrong answers 4xx JSON naming the problem, never a 500:
huge numbers, deeply nested filters, malformed bodies, bad rows left by older versions."""

from __future__ import annotations

import json
import re
import time

import pytest
from tornado.httpclient import HTTPClientError

import nbmlops

API = ("nbmlops", "api")
HUGE = "9" * 23


async def answer(call) -> tuple[int, dict | list]:
    """The status and JSON body of a request, whether it succeeded or not."""
    try:
        response = await call
    except HTTPClientError as exc:
        response = exc.response
    assert response.headers["Content-Type"].startswith("application/json"), response.body[:200]
    return response.code, json.loads(response.body)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"offset": HUGE}, "InvalidFilter"),
        ({"offset": "-1"}, "InvalidFilter"),
        ({"limit": HUGE}, "InvalidFilter"),
        ({"offset": "1" * 5000}, "BadRequest"),  # more digits than int() converts
        ({"filter": "not " * 3000 + "status == 'FAILED'"}, "InvalidFilter"),
        ({"filter": "(" * 3000 + "x"}, "InvalidFilter"),
        ({"filter": "metrics.accuracy > '0.9'"}, "InvalidFilter"),
        ({"order_by": "nosuch DESC"}, "InvalidFilter"),
        ({"experiment": "\u202e"}, "ExperimentNotFound"),
    ],
    ids=["offset", "negative", "limit", "digits", "not", "parens", "quoted", "order", "rtl"],
)
async def test_bad_runs_queries_are_json_4xx(jp_fetch, filled, params, error):
    code, body = await answer(jp_fetch(*API, "runs", params=params))
    assert 400 <= code < 500 and body["error"] == error, body


@pytest.mark.parametrize("version", [HUGE, str(2**31), "0", "-1", "\u00b2", "1e3"])
async def test_version_numbers_out_of_range_are_json_4xx(jp_fetch, filled, version):
    code, body = await answer(jp_fetch(*API, "models", "iris", "versions", version, "card"))
    assert 400 <= code < 500, body
    number = int(version) if re.fullmatch(r"-?[0-9]+", version) else version
    promote = json.dumps({"version": number, "reason": "x"})
    code, body = await answer(
        jp_fetch(*API, "models", "iris", "promote", method="POST", body=promote)
    )
    assert 400 <= code < 500, body
    assert nbmlops.get_model("iris").version == 1


@pytest.mark.parametrize(
    "body",
    [
        {"version": 2, "reason": "x", "to": ["production"]},
        {"version": 2, "reason": "x", "gates": {"metrics.accuracy": 1}},
        {"version": 2, "reason": "x", "gates": "metrics.accuracy >"},
        {"version": 2, "reason": "x", "gates": [1, 2]},
        {"version": [2], "reason": "x"},
        {"version": 2.5, "reason": "x"},
        {"version": True, "reason": "x"},
        {"version": None, "reason": "x"},
        {"version": 2, "reason": ["x"]},
        {"version": 2, "reason": "x" * 100_000},
    ],
    ids=repr,
)
async def test_bad_promote_bodies_are_json_4xx(jp_fetch, filled, body):
    code, answer_ = await answer(
        jp_fetch(*API, "models", "iris", "promote", method="POST", body=json.dumps(body))
    )
    if code == 200:  # an accepted long reason is fine; nothing else is
        assert body["reason"] == "x" * 100_000
        return
    assert 400 <= code < 500, answer_
    assert nbmlops.get_model("iris").version == 1


async def test_a_run_with_a_stored_nanosecond_timestamp_still_opens(jp_fetch, filled):
    # Older versions accepted log_metric(..., timestamp=time.time_ns()); the run view must
    # open anyway (it answered 500 and the sidebar could not show the run).
    from sqlalchemy import update

    from nbmlops.store import _schema as t
    from nbmlops.store import get_store

    run_id = filled["run_ids"][0]
    with get_store().meta.engine.begin() as conn:
        conn.execute(
            update(t.metrics)
            .where(t.metrics.c.run_id == run_id, t.metrics.c.key == "loss")
            .values(timestamp=float(time.time_ns()))
        )
    code, body = await answer(jp_fetch(*API, "runs", run_id))
    assert code == 200, body
    assert [p["step"] for p in body["history"]["loss"]] == [0, 1, 2]
