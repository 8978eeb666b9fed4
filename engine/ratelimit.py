"""Per-key rate limits: a fixed window in Redis shared by every worker and replica, an in-process token bucket when
Redis is away or slow.

The Redis window is one `INCR` + `EXPIRE` round trip under a short timeout (`redis_timeout_s`); when it fails the
limiter switches to its local buckets for `fallback_s` before trying Redis again, so an outage costs one timeout
per `fallback_s`, not one per request. The local bucket allows `rate` per second per process, so with N processes
the limit is at most N times looser while Redis is away: the fallback keeps a runaway client in check, it is not
exact.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aredis

from engine.errors import FraudgateError

KEY_PREFIX = "fraudgate:rl:"


class TooManyRequests(FraudgateError):
    """A key went over its rate limit; `retry_after_s` goes out as the `Retry-After` header."""

    status_code = 429

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """`await limiter.check(name)` raises TooManyRequests when key `name` is over `rate` requests per second."""

    def __init__(
        self,
        client: aredis.Redis | None,
        rate: float,
        burst: int = 0,
        *,
        redis_timeout_s: float = 0.01,
        fallback_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate <= 0:
            raise ValueError("RateLimiter rate must be > 0 requests per second (0 means: build no limiter)")
        self.client = client
        self.rate = rate
        # a window of at least one second, long enough to hold one request at low rates
        self.window_s = max(1, math.ceil(1 / rate))
        self.limit = max(1, round(rate * self.window_s))
        self.burst = burst if burst > 0 else max(1, math.ceil(rate))
        self.redis_timeout_s = redis_timeout_s
        self.fallback_s = fallback_s
        self.clock = clock
        self._redis_down_until = 0.0
        self._buckets: dict[str, _Bucket] = {}
        self.fallbacks = 0
        """How many checks the local buckets answered (for tests and metrics)."""

    async def check(self, name: str) -> None:
        """Count one request of key `name`; raise TooManyRequests when it is over the limit."""
        now = self.clock()
        if self.client is not None and now >= self._redis_down_until:
            try:
                async with asyncio.timeout(self.redis_timeout_s):
                    count = await self._incr(name, now)
            except Exception:
                self._redis_down_until = now + self.fallback_s
            else:
                if count > self.limit:
                    window_end = (now // self.window_s + 1) * self.window_s
                    self._refuse(name, window_end - now)
                return
        self.fallbacks += 1
        self._local(name, now)

    async def _incr(self, name: str, now: float) -> int:
        assert self.client is not None  # checked by the caller
        window = int(now // self.window_s)
        key = f"{KEY_PREFIX}{{{name}}}:{window}"
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.window_s + 1)
            count, _ = await pipe.execute()
        return int(count)

    def _local(self, name: str, now: float) -> None:
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens < 1:
            self._refuse(name, (1 - bucket.tokens) / self.rate)
        bucket.tokens -= 1

    def _refuse(self, name: str, wait_s: float) -> None:
        raise TooManyRequests(
            f"key `{name}` is over its limit of {self.rate:g} requests per second; retry later",
            retry_after_s=max(1, math.ceil(wait_s)),
        )
