"""Serving under load, over real HTTP: 4 client processes × 2,000 requests across an alias
switch, a canary start and an abort (no failed request; every logged request's version is
the one the rollout state allowed at its time), and two servers on one PostgreSQL store
agreeing on a canary's split over 10,000 one-row requests."""

from __future__ import annotations

import json
import multiprocessing
import signal
import time
from pathlib import Path

import pytest

import nbmlops

from .conftest import FEATURES, httpx, make_frame, train, wait_for

REQUESTS = 2000
CHECKPOINTS = (600, 1100, 1600)  # clients wait here until the change before it was seen


def _client(url: str, worker: int, sent, events, out: str) -> None:
    """One client process: REQUESTS one-row requests, recording what each got back."""
    records = make_frame(50, seed=worker)[["customer_id", *FEATURES]]
    records["age"] = records["age"].astype(int)
    rows = records.to_dict("records")
    results = []
    with httpx.Client(base_url=url, timeout=60) as c:
        for i in range(REQUESTS):
            if i in CHECKPOINTS:
                events[CHECKPOINTS.index(i)].wait(300)
            request_id = f"p{worker}-{i}"
            sent_at = time.time()
            response = c.post(
                "/invocations",
                json={"dataframe_records": [rows[i % len(rows)]]},
                headers={"x-request-id": request_id},
            )
            results.append(
                (
                    request_id,
                    sent_at,
                    time.time(),
                    response.status_code,
                    response.headers.get("x-model-version"),
                )
            )
            with sent.get_lock():
                sent.value += 1
    Path(out).write_text(json.dumps(results))


@pytest.mark.load
@pytest.mark.timeout(1800)  # 8,000 requests: about a minute on a quiet 2-core machine
def test_four_clients_across_switch_canary_and_abort(served_workspace, tmp_path):
    frame = make_frame()
    v3 = nbmlops.register_model(
        train(frame, c=0.01), "churn", input_example=frame[FEATURES].head(20)
    )
    nbmlops.set_alias("churn", "load", 1)
    server = nbmlops.serve("churn@load", poll=0.2, evaluate_every=3600, id_columns=["customer_id"])
    ctx = multiprocessing.get_context("spawn")
    sent = ctx.Value("i", 0)
    events = [ctx.Event() for _ in CHECKPOINTS]
    outs = [str(tmp_path / f"client{w}.json") for w in range(4)]
    procs = [
        ctx.Process(target=_client, args=(server.url, w, sent, events, outs[w])) for w in range(4)
    ]
    for p in procs:
        p.start()
    changes = []  # (changed at, seen by the server at, allowed before, allowed after)

    def change(threshold: int, action, seen, before: set, after: set, event) -> None:
        wait_for(lambda: sent.value >= threshold, timeout=600, what=f"{threshold} requests")
        at = time.time()
        action()
        wait_for(lambda: seen(server.status()["churn"]), timeout=60, what="the server to follow")
        changes.append((at, time.time(), before, after))
        event.set()

    try:
        change(
            4 * 500,
            lambda: nbmlops.set_alias("churn", "load", 2),
            lambda s: s["version"] == 2,
            {"1"},
            {"2"},
            events[0],
        )
        rollout = None

        def start():
            nonlocal rollout
            # v3 against the alias' v2: the champion is whatever the served reference names.
            rollout = nbmlops.rollout(
                "churn",
                candidate=v3.version,
                mode="canary",
                steps=[50],
                every="1h",
                key="customer_id",
                min_requests=10**6,
            )

        change(4 * 1000, start, lambda s: "rollout" in s, {"2"}, {"2", "3"}, events[1])
        change(
            4 * 1500,
            lambda: rollout.abort(reason="load test"),
            lambda s: "rollout" not in s,
            {"2", "3"},
            {"2"},
            events[2],
        )
        for p in procs:
            p.join(600)
            assert p.exitcode == 0
    finally:
        for event in events:
            event.set()
        server.stop()
    results = [r for out in outs for r in json.loads(Path(out).read_text())]
    assert len(results) == 4 * REQUESTS
    assert {status for _, _, _, status, _ in results} == {200}, "a request failed"

    def allowed(sent_at: float, answered_at: float) -> set:
        """What the rollout state allowed while the request was in flight: the state when
        it was sent, plus every state that began before it was answered."""
        versions = {"1"}
        for at, seen, before, after in changes:
            if sent_at >= seen:
                versions = after
            elif answered_at >= at:
                versions = versions | before | after
        return versions

    wrong = [(rid, v) for rid, t0, t1, _, v in results if v not in allowed(t0, t1)]
    assert not wrong, wrong[:5]
    assert {v for *_, v in results} == {"1", "2", "3"}
    log = nbmlops.prediction_log("churn")
    log = log.loc[log["request_id"].astype(str).str.match(r"p\d-")]
    assert len(log) == 4 * REQUESTS  # nothing lost
    answered = {rid: v for rid, _, _, _, v in results}
    mismatch = log.loc[log["model_version"].astype(str) != log["request_id"].map(answered)]
    assert mismatch.empty, mismatch.head()
    arms = log.set_index("request_id")["rollout_arm"]
    assert set(arms[log.set_index("request_id")["model_version"] == 3]) == {"candidate"}
    nbmlops.delete_alias("churn", "load")


NUMBERS = ["age", "income"]
KEYS = 5_000  # each key goes to both servers: 10,000 one-row requests in all
CLIENTS = 4  # threads per server, each with its own keep-alive connection


def _send_keys(url: str, server: int, records: list[dict]) -> dict[str, tuple[int, str]]:
    """Post each record alone to ``url`` from CLIENTS keep-alive connections; return each
    customer's (status, answering version)."""
    from concurrent.futures import ThreadPoolExecutor

    def worker(part: int) -> dict[str, tuple[int, str]]:
        out = {}
        with httpx.Client(base_url=url, timeout=60) as c:
            for record in records[part::CLIENTS]:
                response = c.post(
                    "/invocations",
                    json={"dataframe_records": [record]},
                    headers={"x-request-id": f"s{server}-{record['customer_id']}"},
                )
                out[record["customer_id"]] = (
                    response.status_code,
                    response.headers.get("x-model-version"),
                )
        return out

    with ThreadPoolExecutor(CLIENTS) as pool:
        return {k: v for part in pool.map(worker, range(CLIENTS)) for k, v in part.items()}


@pytest.mark.load
@pytest.mark.postgres
@pytest.mark.timeout(900)  # ~1 min on a quiet 2-core machine; a deadline against hangs
def test_two_servers_on_postgres_agree_on_a_canary_split(postgres_database, tmp_path):
    """Two ``nbmlops serve`` processes on one PostgreSQL store and artifact location: 5,000
    customers each sent once to both (10,000 one-row requests, 4 keep-alive clients per
    server at once). Each server sends 20 % ± 2 % of them to the candidate, and every
    customer gets the same arm from both."""
    from concurrent.futures import ThreadPoolExecutor

    from .test_sigterm import start_cli_server

    mp = pytest.MonkeyPatch()
    mp.setenv("NBMLOPS_HOME", str(tmp_path / "pg"))
    mp.setenv("NBMLOPS_STORE_URL", postgres_database)
    nbmlops.configure(reset=True)
    procs = []
    try:
        # A plain logistic regression on two columns: the split is under test, not the model,
        # and 10,000 calls of a one-hot pipeline would cost half a minute of CPU.
        from sklearn.linear_model import LogisticRegression

        frame = make_frame()
        x, y = frame[NUMBERS], (frame["income"] > 50_000).astype(int)
        example = x.head(20)
        nbmlops.register_model(LogisticRegression().fit(x, y), "churn", input_example=example)
        nbmlops.register_model(LogisticRegression().fit(x, 1 - y), "churn", input_example=example)
        nbmlops.promote("churn", 1)
        args = ("churn", "--poll", "0.2", "--evaluate-every", "3600", "--id-column", "customer_id")
        with ThreadPoolExecutor(2) as pool:  # both start at once (imports dominate)
            started = list(pool.map(lambda _: start_cli_server(*args), range(2)))
        procs = [proc for proc, _ in started]
        urls = [url for _, url in started]
        nbmlops.rollout(
            "churn",
            candidate=2,
            mode="canary",
            steps=[20],
            every="1h",
            key="customer_id",
            min_requests=10**6,
        )
        for url in urls:
            wait_for(
                lambda url=url: "rollout" in httpx.get(f"{url}/health").json()["models"]["churn"],
                what="the server to pick up the rollout",
            )
        keys = make_frame(KEYS, seed=11)[["customer_id", *NUMBERS]]
        keys["age"] = keys["age"].astype(int)
        records = keys.to_dict("records")
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda n: _send_keys(urls[n], n, records), range(2)))
        for proc in procs:
            proc.terminate()  # SIGTERM: drain, then write every queued prediction
        for proc in procs:
            # uvicorn re-raises the SIGTERM it handled once it has shut down gracefully.
            assert proc.wait(120) in (0, -signal.SIGTERM), proc.stderr.read()
        for answer in answers:
            assert len(answer) == KEYS and {s for s, _ in answer.values()} == {200}
        log = nbmlops.prediction_log("churn")
        arms = {}
        for n, answer in enumerate(answers):
            mine = log.loc[log["request_id"].astype(str).str.startswith(f"s{n}-")]
            arms[n] = mine.set_index("customer_id")["rollout_arm"].sort_index()
            assert len(arms[n]) == KEYS and arms[n].index.is_unique
            # What the server logged is what it answered with.
            answered = {k: "candidate" if v == "2" else "champion" for k, (_, v) in answer.items()}
            assert (arms[n] == arms[n].index.map(answered)).all()
        share = [float((a == "candidate").mean()) for a in arms.values()]
        assert all(abs(s - 0.20) <= 0.02 for s in share), share
        assert (arms[0] == arms[1]).all()  # every customer got the same arm from both
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        nbmlops.configure(reset=True)
        mp.undo()
