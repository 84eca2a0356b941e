"""What the tamper-evident audit log costs: one registry write with its chained event, an
event appended on its own, and verifying the whole chain.

    python benchmarks/bench_audit.py [--events 5000] [--no-write]

(a) ``set_alias`` (one registry transaction that now also appends its audit event); (b)
    appending one event in a transaction of its own (the audit's share of (a)); (c) ``verify_audit`` over the whole log, per 1 000 rows. SQLite
    in a temporary workspace; the section in RESULTS.md is replaced.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import RESULTS, write_section  # noqa: E402


def _median_ms(fn, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="nbmlops-bench-audit-")
    os.environ["NBMLOPS_HOME"] = home
    from sklearn.dummy import DummyClassifier

    import nbmlops
    from nbmlops.store import get_store

    store = get_store()
    model = DummyClassifier().fit([[0], [1]], [0, 1])
    nbmlops.register_model(model, "bench")
    nbmlops.register_model(model, "bench")
    flip = iter(range(10**9))

    def alias() -> None:  # moves the alias every call, so every call writes
        nbmlops.set_alias("bench", "shadow", 1 + next(flip) % 2)

    def record() -> None:
        store.audit.record("bench.event", "models:/bench/1", {"i": 1}, "bench")

    for fn in (alias, record):
        fn()
    a_med, a_p90 = _median_ms(alias, args.repeat)
    r_med, r_p90 = _median_ms(record, args.repeat)
    while len(store.audit.events()) < args.events:
        store.meta._write(
            lambda conn: [
                __import__("nbmlops.store.audit", fromlist=["append"]).append(
                    conn, "bench.fill", "models:/bench/1", {"n": i}, "bench"
                )
                for i in range(500)
            ]
        )
    rows = len(store.audit.events())
    start = time.perf_counter()
    check = nbmlops.verify_audit()
    verify_s = time.perf_counter() - start
    assert check.ok, check
    text = f"""## Audit log cost (`benchmarks/bench_audit.py`)

Made by `python benchmarks/bench_audit.py --events {args.events}`; one run.

- date: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
- machine: {os.cpu_count()} cores, {platform.platform()}
- python: {platform.python_version()}; nbmlops {nbmlops.__version__}; SQLite workspace in /tmp
- medians (p90) over {args.repeat} calls each; load average at the start: {os.getloadavg()[0]:.1f}

| measure | median | p90 |
|---|---:|---:|
| `set_alias` (registry write + chained audit event, one transaction) | {a_med:.2f} ms | {a_p90:.2f} ms |
| one audit event in its own transaction | {r_med:.2f} ms | {r_p90:.2f} ms |
| `verify_audit` over {rows} rows | {verify_s * 1000:.0f} ms total | {verify_s * 1e6 / rows:.1f} µs/row |
"""
    print(text)
    if not args.no_write:
        write_section("bench_audit", text, RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
