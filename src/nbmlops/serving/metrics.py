"""Prometheus metrics of one server (its own registry, so several servers in one process,
as in tests and notebooks, never share counters): requests, errors and latency per model,
version and rollout arm."""

from __future__ import annotations


class ServingMetrics:
    """Counters and a latency histogram served on ``/metrics``."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        labels = ["model", "version", "arm"]
        self.requests = Counter(
            "nbmlops_requests",
            "Requests scored, per model version and rollout arm",
            labels,
            registry=self.registry,
        )
        self.rows = Counter(
            "nbmlops_rows",
            "Rows scored, per model version and rollout arm",
            labels,
            registry=self.registry,
        )
        self.errors = Counter(
            "nbmlops_request_errors",
            "Requests that failed, by HTTP status",
            ["model", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "nbmlops_request_latency_seconds",
            "Time to score a request",
            labels,
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.share = Gauge(
            "nbmlops_rollout_candidate_share",
            "Percent of keys a rollout sends to the candidate",
            ["model", "candidate", "mode"],
            registry=self.registry,
        )
        self.logged = Gauge(
            "nbmlops_prediction_log_pending",
            "Rows waiting to be written to the prediction log",
            registry=self.registry,
        )

    def observe(self, model: str, version: int, arm: str, rows: int, seconds: float) -> None:
        labels = (model, str(version), arm)
        self.requests.labels(*labels).inc()
        self.rows.labels(*labels).inc(rows)
        self.latency.labels(*labels).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
