"""Waits between retries of an optimistic update: exponential, with jitter.

Processes that collided once must not retry in lockstep and collide again, so each wait is
drawn at random from the upper half of an exponentially growing ceiling ("equal jitter").
"""

from __future__ import annotations

import random
from collections.abc import Iterator

BASE_S = 0.01
CAP_S = 1.0


def backoff_delays(retries: int, base_s: float = BASE_S, cap_s: float = CAP_S) -> Iterator[float]:
    """``retries`` waits in seconds: the ``i``-th in ``[c/2, c]`` with ``c = min(cap_s,
    base_s * 2**i)``.

    >>> delays = list(backoff_delays(3))
    >>> len(delays), 0.005 <= delays[0] <= 0.01, 0.02 <= delays[2] <= 0.04
    (3, True, True)
    """
    for i in range(retries):
        ceiling = min(cap_s, base_s * 2**i)
        yield ceiling / 2 + random.uniform(0, ceiling / 2)
