"""``nbmlops serve`` under load: SIGTERM drains the requests in flight and writes every
prediction it answered to the log."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

import nbmlops

from .conftest import FEATURES, httpx, make_frame, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_cli_server(*args: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbmlops", "serve", *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    url = f"http://127.0.0.1:{port}"

    def ready():
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {proc.stderr.read()}")
        try:
            return httpx.get(f"{url}/health", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(ready, timeout=120, what="nbmlops serve to be ready")
    return proc, url


@pytest.mark.load
def test_sigterm_under_load_loses_no_logged_prediction(served_workspace):
    proc, url = start_cli_server("churn", "--poll", "0.5")
    records = make_frame(20, seed=3)[FEATURES].to_dict("records")
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            for i in range(100_000):
                if stop.is_set():
                    return
                request_id = f"w{worker}-{i}"
                try:
                    response = c.post(
                        "/invocations",
                        json={"dataframe_records": [records[i % len(records)]]},
                        headers={"x-request-id": request_id},
                    )
                except httpx.TransportError:
                    return  # the server stopped accepting: done
                if response.status_code == 200:
                    with lock:
                        answered.append(request_id)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(answered) >= 300, timeout=120, what="300 answered requests")
    proc.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal it handled once it has shut down gracefully.
    assert proc.wait(timeout=120) in (0, -signal.SIGTERM), proc.stderr.read()
    stop.set()
    for t in threads:
        t.join(60)
    log = nbmlops.prediction_log("churn")
    logged = set(log["request_id"].dropna())
    missing = [r for r in answered if r not in logged]
    assert not missing, f"{len(missing)} of {len(answered)} answered requests were not logged"
