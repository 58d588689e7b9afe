"""Per-principal rate limits: a token bucket per caller in each service process.

Each principal (or, for requests without a key, each client address) has a bucket of `burst`
tokens refilled at `per_second`; a request takes one token, and a request that finds the bucket
empty is answered 429 with the seconds until a token is back (`Retry-After`). Limits are per
process: with several replicas behind a balancer a caller gets that many times the rate.

A dozen lines of arithmetic: the libraries that do this (`limits`, `pyrate-limiter`) bring
storage back-ends we do not need, and are not dependencies of the platform.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Final


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimits:
    # Callers without a key are counted per address; never let their buckets grow without bound.
    MAX_BUCKETS: Final = 100_000

    def __init__(self, per_second: float, burst: int) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.per_second = per_second
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def take(self, caller: str, now: float | None = None) -> int:
        """0 if `caller` may go ahead (a token is taken), else the whole seconds to wait."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(caller)
        if bucket is None:
            if len(self._buckets) >= self.MAX_BUCKETS:
                self._forget_full(now)
            bucket = self._buckets[caller] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.per_second)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - bucket.tokens) / self.per_second))

    def _forget_full(self, now: float) -> None:
        """A bucket that has refilled is the same as no bucket: drop those."""
        full = [
            caller
            for caller, b in self._buckets.items()
            if b.tokens + (now - b.at) * self.per_second >= self.burst
        ]
        for caller in full or list(self._buckets)[: self.MAX_BUCKETS // 2]:
            del self._buckets[caller]
