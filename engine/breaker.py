"""A circuit breaker around Redis: stop waiting on a Redis that keeps failing, probe it, recover by itself.

closed → (`threshold` consecutive failures) → open: callers skip Redis and answer degraded at once, while one
background task probes with PING every `probe_interval_s` → first good probe → closed. The state is a metric.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import Gauge

log = logging.getLogger(__name__)

CLOSED, OPEN = 0, 1


class CircuitBreaker:
    """Counts consecutive Redis failures; opens after `threshold`; a background probe closes it again."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[object]],
        gauge: Gauge,
        *,
        threshold: int = 5,
        probe_interval_s: float = 0.5,
        probe_timeout_s: float = 0.25,
        on_recover: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._probe = probe
        self._on_recover = on_recover
        self._gauge = gauge
        self.threshold = threshold
        self.probe_interval_s = probe_interval_s
        self.probe_timeout_s = probe_timeout_s
        self.failures = 0
        self.state = CLOSED
        self._task: asyncio.Task[None] | None = None
        gauge.set(CLOSED)

    @property
    def is_open(self) -> bool:
        """True while callers should not wait on Redis."""
        return self.state == OPEN

    def success(self) -> None:
        """A call went through."""
        self.failures = 0

    def failure(self) -> None:
        """A call failed or timed out; the `threshold`-th in a row opens the circuit."""
        self.failures += 1
        if self.state == CLOSED and self.failures >= self.threshold:
            self.state = OPEN
            self._gauge.set(OPEN)
            log.warning("redis circuit open after %d consecutive failures; probing every %.1f s",
                        self.failures, self.probe_interval_s)  # fmt: skip
            self._task = asyncio.get_running_loop().create_task(self._probe_until_closed(), name="redis-probe")

    async def _probe_until_closed(self) -> None:
        while self.state == OPEN:
            await asyncio.sleep(self.probe_interval_s)
            try:
                async with asyncio.timeout(self.probe_timeout_s):
                    await self._probe()
            except Exception:  # noqa: S112 - any failure keeps it open; the next probe tries again
                continue
            if self._on_recover is not None:
                # e.g. drop pooled connections to the Redis that went away, so no request meets a dead socket
                await self._on_recover()
            self.failures = 0
            self.state = CLOSED
            self._gauge.set(CLOSED)
            log.warning("redis circuit closed: redis answers again")

    async def close(self) -> None:
        """Stop probing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
