"""Per-caller rate limiting: one token bucket per API key (and one for the operator).

Cheap by design: the buckets live in this process's memory, so a check costs no DynamoDB
request and no network call. Locally (one process) that is exact. On AWS every warm Lambda
container keeps its own buckets, so the effective limit is per container; the limit that
holds across containers is API Gateway's: one usage plan per role with the same rate and
burst, each site key registered as an API Gateway API key (docs/reliability.md). This
bucket stays as the inner guard and gives the API's own error shape (429 `RateLimited`
with `Retry-After`) wherever a request gets this far.

Settings (environment, read once): `RATE_LIMIT_PER_SECOND` / `RATE_LIMIT_BURST` for site
keys (default 50/s, burst 100) and `OPERATOR_RATE_LIMIT_PER_SECOND` / `OPERATOR_RATE_LIMIT_BURST`
for the operator token (default 1000/s, burst 2000: benchmarks and the console drive the local
stack with it). A rate of 0 switches the limit off.

Tests replace the buckets with `install(...)` (buckets on a clock of their own, so refills
are moved by the test rather than waited for) and go back with `reset()`.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from chalicelib.auth import Principal
from chalicelib.errors import RateLimited

MAX_BUCKETS = 10_000  # keys seen by one process; full (idle) buckets are dropped beyond it


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBucket:
    """`rate` tokens per second up to `burst`, one bucket per key; thread-safe."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, max(1.0, burst), clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when the call may go ahead (a token is taken), else the seconds until one is there."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._evict(now)
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def tokens(self, key: str) -> float:
        """What `key` could take right now, without taking anything (a full burst when unseen)."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            return self.burst if bucket is None else min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)

    def _evict(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]:
            del self._buckets[key]
        if len(self._buckets) >= MAX_BUCKETS:  # all busy: forget the oldest rather than grow
            oldest = min(self._buckets, key=lambda k: self._buckets[k].at)
            del self._buckets[oldest]


def _number(name: str, default: float, env: Mapping[str, str] | None = None) -> float:
    try:
        return float((os.environ if env is None else env).get(name, default))
    except ValueError:
        return default


# (rate setting, default, burst setting, default): site keys, then the operator.
_SITE_KEYS = ("RATE_LIMIT_PER_SECOND", 50.0, "RATE_LIMIT_BURST", 100.0)
_OPERATOR = ("OPERATOR_RATE_LIMIT_PER_SECOND", 1000.0, "OPERATOR_RATE_LIMIT_BURST", 2000.0)


def rates(env: Mapping[str, str] | None = None) -> tuple[tuple[float, float], tuple[float, float]]:
    """((rate, burst) of site keys, (rate, burst) of the operator) from `env` (default: the process's).

    infra/package.py gives API Gateway's usage plans the same figures from the stage's
    environment, so the limit across containers and the one inside each agree.
    """
    source = os.environ if env is None else env

    def pair(rate: str, rate_default: float, burst: str, burst_default: float) -> tuple[float, float]:
        return _number(rate, rate_default, source), _number(burst, burst_default, source)

    return pair(*_SITE_KEYS), pair(*_OPERATOR)


@lru_cache(maxsize=1)
def _configured() -> tuple[TokenBucket, TokenBucket]:
    (key_rate, key_burst), (op_rate, op_burst) = rates()
    return TokenBucket(key_rate, key_burst), TokenBucket(op_rate, op_burst)


_installed: tuple[TokenBucket, TokenBucket] | None = None


def limiters() -> tuple[TokenBucket, TokenBucket]:
    """(site keys, operator): the installed pair, else the environment's (read at first use)."""
    return _installed if _installed is not None else _configured()


def install(keys: TokenBucket, operator: TokenBucket) -> None:
    """Use these buckets from now on (tests: buckets on an injected clock)."""
    global _installed
    _installed = (keys, operator)


def reset() -> None:
    """Back to the environment's buckets, read afresh at the next check."""
    global _installed
    _installed = None
    _configured.cache_clear()


def check(principal: Principal) -> None:
    """429 `RateLimited` with `Retry-After` (whole seconds, at least 1) when the caller's bucket is empty."""
    keys, operator = limiters()
    bucket = operator if principal.is_operator else keys
    wait = bucket.take(principal.key_id or "operator")
    if wait > 0:
        raise RateLimited(f"too many requests for this token; retry in {wait:.2f} s", math.ceil(wait))
