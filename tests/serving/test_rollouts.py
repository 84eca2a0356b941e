"""Rollouts through a real server: sticky canary split, shadow scoring logged under one request
id, a failing guard aborting with an alert, completion promoting, the CLI, ``%rollout`` and
``ab_report``."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

import nbmlops
from nbmlops.cli import main

from .conftest import FEATURES, httpx, make_frame, wait_for


@pytest.fixture(scope="module")
def server(served_workspace):
    handle = nbmlops.serve("churn", poll=0.1, evaluate_every=0.3, id_columns=["customer_id"])
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(autouse=True)
def no_active_rollout(served_workspace, server):
    yield
    for rid in nbmlops.rollouts().query("status in ['running', 'paused']")["id"]:
        nbmlops.get_rollout(int(rid)).abort(reason="test cleanup")
    if nbmlops.get_model("churn@production").version != 1:
        nbmlops.promote("churn", 1, reason="test cleanup")
    wait_for(
        lambda: server.status()["churn"] == {"ref": "models:/churn@production", "version": 1},
        what="the server back on v1 alone",
    )


CUSTOMERS = make_frame(300, seed=5)


def _post(client, i: int, request_id: str | None = None):
    record = CUSTOMERS[["customer_id", *FEATURES]].iloc[i].to_dict()
    record["age"] = int(record["age"])
    headers = {"x-request-id": request_id} if request_id else {}
    response = client.post("/invocations", json={"dataframe_records": [record]}, headers=headers)
    assert response.status_code == 200, response.text
    return response


def _serving(server, candidate=None):
    def check():
        rollout = server.status()["churn"].get("rollout")
        return (
            rollout
            if (candidate is None or (rollout and rollout["candidate"] == candidate))
            else None
        )

    return wait_for(check, what="the server to pick up the rollout")


def test_canary_split_is_sticky_per_key_and_logged_per_arm(server, client):
    r = nbmlops.rollout(
        "churn",
        candidate=2,
        mode="canary",
        steps=[30, 100],
        every="1h",
        key="customer_id",
        min_requests=10_000,
    )
    _serving(server, 2)
    first = {i: _post(client, i, f"sticky-a-{i}").headers["x-model-version"] for i in range(120)}
    again = {i: _post(client, i, f"sticky-b-{i}").headers["x-model-version"] for i in range(120)}
    assert first == again  # the same customer gets the same version every time
    share = sum(v == "2" for v in first.values()) / len(first)
    assert 0.15 < share < 0.45, share

    def logged():
        log = nbmlops.prediction_log("churn")
        if "request_id" not in log:
            return None
        log = log.loc[log["request_id"].astype(str).str.startswith("sticky-a-")]
        return log if len(log) == 120 else None

    log = wait_for(logged, what="the 120 logged requests")
    by_request = dict(
        zip(
            log["request_id"],
            zip(log["model_version"], log["rollout_arm"], strict=True),
            strict=True,
        )
    )
    for i, version in first.items():
        assert by_request[f"sticky-a-{i}"] == (
            int(version),
            "candidate" if version == "2" else "champion",
        )
    assert r.state == "running"


def test_failing_guard_aborts_with_an_alert_and_traffic_returns(server, client):
    r = nbmlops.rollout(
        "churn",
        candidate=2,
        mode="canary",
        steps=[100],
        every="1h",
        guards=["error_rate < 0.5", "latency.p50_ms < 0.000001"],
        min_requests=20,
    )
    _serving(server, 2)
    for i in range(25):
        _post(client, i)
    wait_for(lambda: r.state == "aborted", what="the guard to abort the rollout")
    assert r.share == 0
    # Within one evaluation window, by the product's own clocks: from the moment the window
    # held min_requests candidate requests (the 20th one's logged time) to the abort event.
    log = nbmlops.prediction_log("churn", start=r.events()["at"].iloc[0].timestamp())
    candidate = log.loc[log["rollout_arm"] == "candidate"].sort_values("predicted_at")
    complete = candidate["predicted_at"].iloc[20 - 1].timestamp()
    events = r.events()
    aborted = events.loc[events["kind"] == "abort", "at"].iloc[0].timestamp()
    # One evaluation interval (evaluate_every) plus the follower's poll before it notices,
    # plus 5 s for the evaluation itself on a busy shared 2-core machine (it takes ~0.1 s on
    # a quiet one).
    bound = server.state.options.evaluate_every + server.state.options.poll + 5.0
    assert 0 <= aborted - complete <= bound, (aborted - complete, bound)

    def alert_id():  # the alert is written just after the abort, in its own transaction
        value = nbmlops.rollouts().set_index("id").loc[r.id, "alert_id"]
        return None if pd.isna(value) else int(value)

    alert = nbmlops.get_alert(wait_for(alert_id, what="the rollout's alert"))
    assert "latency.p50_ms < 0.000001" in alert["summary"] and "window" in alert["summary"]
    assert alert["monitor"] == "rollout:churn" and alert["model_version"] == 2
    failed = [g for g in alert["context"]["guards"] if not g["passed"]]
    assert failed[0]["gate"] == "latency.p50_ms < 0.000001" and failed[0]["value"] > 0
    wait_for(lambda: "rollout" not in server.status()["churn"], what="the champion alone")
    assert {_post(client, i).headers["x-model-version"] for i in range(30)} == {"1"}


def test_shadow_scores_a_copy_and_logs_both_under_one_request(server, client):
    r = nbmlops.rollout(
        "churn", candidate=2, mode="shadow", guards=["agreement >= 0.9"], min_requests=1000
    )
    _serving(server, 2)
    expected = nbmlops.get_model("churn", 1).predict(CUSTOMERS[FEATURES].head(40)).tolist()
    got = [_post(client, i, f"shadow-{i}").json()["predictions"][0] for i in range(40)]
    assert got == expected  # the champion answers

    def both():
        log = nbmlops.prediction_log("churn")
        if "request_id" not in log:
            return None
        log = log.loc[log["request_id"].astype(str).str.startswith("shadow-")]
        return log if len(log) == 80 else None

    log = wait_for(both, what="champion and shadow rows of 40 requests")
    arms = log.groupby("request_id")["rollout_arm"].apply(lambda s: sorted(s)).tolist()
    assert arms == [["champion", "shadow"]] * 40
    assert set(log.loc[log["rollout_arm"] == "shadow", "model_version"]) == {2}
    status = r.status()
    agreement = status["evaluation"].set_index("gate").loc["agreement >= 0.9", "value"]
    assert agreement < 0.5  # v2 is trained on flipped labels


def test_completing_the_last_step_promotes_through_gates(server, client):
    r = nbmlops.rollout(
        "churn",
        candidate=2,
        mode="canary",
        steps=[50, 100],
        every=0,
        guards=["error_rate < 0.5"],
        min_requests=5,
        gates=["metrics.nonexistent >= 1"],
    )
    _serving(server, 2)
    # Traffic keeps coming; the last step's gate cannot pass: the promotion is refused and
    # the rollout aborted.
    wait_for(
        lambda: _post(client, 0) and r.state != "running", what="the rollout to end", timeout=60
    )
    assert r.state == "aborted" and "gates failed" in nbmlops.rollouts().iloc[-1]["reason"]
    assert nbmlops.get_model("churn@production").version == 1

    blue_green = nbmlops.rollout(
        "churn",
        candidate=2,
        mode="canary",
        steps=[100],
        every=0,
        guards=["error_rate < 0.5"],
        min_requests=5,
    )
    _serving(server, 2)
    wait_for(
        lambda: _post(client, 0) and blue_green.state == "completed",
        what="blue/green to complete",
        timeout=60,
    )
    assert nbmlops.get_model("churn@production").version == 2
    history = nbmlops.model_history("churn")
    assert f"rollout {blue_green.id} (canary) completed" in history.iloc[-1]["reason"]


def test_cli_status_pause_advance_abort(served_workspace, server):
    runner = CliRunner()
    started = runner.invoke(
        main,
        [
            "rollout",
            "start",
            "churn",
            "--candidate",
            "2",
            "--steps",
            "10,50",
            "--every",
            "1h",
            "--guard",
            "error_rate < 0.2",
        ],
    )
    assert started.exit_code == 0, started.output
    assert "10% to the candidate" in started.output
    status = runner.invoke(main, ["rollout", "status", "churn", "--json"])
    body = json.loads(status.output)
    assert body["steps"] == [10.0, 50.0] and body["status"] == "running"
    assert runner.invoke(main, ["rollout", "pause", "churn"]).output.strip().endswith("[paused]")
    refused = runner.invoke(main, ["rollout", "start", "churn", "--candidate", "2"])
    assert refused.exit_code == 2 and "still active" in refused.output
    runner.invoke(main, ["rollout", "resume", "churn"])
    advanced = runner.invoke(main, ["rollout", "advance", "churn"])
    assert "step 2/2, 50% to the candidate" in advanced.output, advanced.output
    aborted = runner.invoke(main, ["rollout", "abort", "churn", "--reason", "enough"])
    assert aborted.exit_code == 0 and "[aborted]" in aborted.output and "enough" in aborted.output
    again = runner.invoke(main, ["rollout", "abort", "churn"])
    assert again.exit_code == 2 and "already aborted" in again.output

    # Every change of the rollout's state is in the audit chain, in order, with the candidate
    # as subject; the chain still verifies, and the candidate's lineage shows the rollout.
    rollout_id = body["id"]
    events = nbmlops.audit_log("churn", kind="rollout.")
    ours = events[[p["rollout"] == rollout_id for p in events["payload"]]]
    assert list(ours["kind"]) == [
        "rollout.start",
        "rollout.pause",
        "rollout.resume",
        "rollout.advance",
        "rollout.abort",
    ]
    assert set(ours["subject"]) == {"models:/churn/2"}
    assert nbmlops.verify_audit().ok
    lineage = nbmlops.lineage("models:/churn/2")
    assert "rollout" in set(lineage.nodes["kind"])


def test_rollout_magic(ip, served_workspace, server):
    ip.run_line_magic("load_ext", "nbmlops")
    started = ip.run_line_magic("rollout", "churn --candidate 2 --mode ab --every 1h")
    assert started.state == "running" and started.share == 50
    shown = ip.run_line_magic("rollout", "churn --abort")
    assert shown.state == "aborted"


def test_ab_report_compares_arms_on_labels(server, client):
    r = nbmlops.rollout(
        "churn", candidate=2, mode="ab", key="customer_id", every="1h", min_requests=10_000
    )
    _serving(server, 2)
    ids = [f"ab-{i}" for i in range(160)]
    for i, request_id in enumerate(ids):
        _post(client, i, request_id)
    truth = ((CUSTOMERS["income"] > 50_000).astype(int)).tolist()[:160]

    def labelled_log():
        log = nbmlops.prediction_log("churn")
        return "request_id" in log and log["request_id"].isin(ids).sum() == 160

    wait_for(labelled_log, what="160 logged requests")
    nbmlops.log_labels(ids, truth)
    report = nbmlops.ab_report(r, metrics=["accuracy"])
    row = report.iloc[0]
    assert row["test"] == "two-proportion z-test"
    assert row["n_champion"] + row["n_candidate"] == 160
    assert row["champion"] > 0.8 and row["candidate"] < 0.2  # v2 learned flipped labels
    assert row["ci_low"] < row["difference"] < row["ci_high"] < 0
    assert row["p_value"] < 1e-6
    assert row["remaining"] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "blue"}, "mode is one of"),
        ({"steps": [50, 20]}, "must not go down"),
        ({"steps": [150]}, "percentages"),
        ({"guards": ["latency < 5"]}, "cannot read guard"),
        ({"every": "soon"}, "every= is a duration"),
        ({"candidate": 1}, "already in production"),
    ],
)
def test_bad_rollouts_are_refused(served_workspace, kwargs, message):
    with pytest.raises(nbmlops.ServingError, match=message):
        nbmlops.rollout("churn", **{"candidate": 2, **kwargs})
    assert not len(nbmlops.rollouts().query("status == 'running'"))


def test_serving_tab_of_the_panel_shows_and_aborts_a_rollout(served_workspace, server, client):
    from nbmlops.widgets.panel import Panel

    r = nbmlops.rollout(
        "churn",
        candidate=2,
        mode="canary",
        steps=[25, 100],
        every="1h",
        key="customer_id",
        guards=["error_rate < 0.5"],
        min_requests=10_000,
    )
    app = Panel()
    tab = app.serving
    assert app.get_title(5) == "Serving"
    assert "v2 vs v1" in tab.listing.value and "v1 75% · v2 25%" in tab.listing.value
    assert tab.rollout.options[0][1] == r.id
    tab.rollout.value = r.id
    tab.show_guards()
    assert "error_rate &lt; 0.5" in tab.guards.value or "error_rate < 0.5" in tab.guards.value
    tab.act("abort")
    assert r.state == "aborted" and "[aborted]" in tab.message.value
    assert tab.rollout.options == () or list(tab.rollout.options) == []
    assert "aborted" in app.to_html()
