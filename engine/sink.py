"""After the response: velocity updates and the decision log, batched onto one Redis pipeline.

Requests only enqueue (no I/O on the critical path); one worker drains the queue in batches, so that under load many
events share a round trip. When Redis refuses, the records go to a local append-only spill file: a decision that was
returned is never lost. (Replaying the spill file into the stream when Redis is back is issue 6.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from engine.metrics import Metrics
from features.keys import DECISION_STREAM
from features.updates import VelocityUpdater

log = logging.getLogger(__name__)

BATCH = 256
STREAM_MAXLEN = 1_000_000


class LogRecord(msgspec.Struct, frozen=True):
    """One decision as the ETL sees it (DESIGN.md, decision log)."""

    event: dict[str, Any]
    """The event as received (ids are tokens; no card numbers are accepted by the schema)."""
    features: dict[str, Any] | None
    """The features the model saw (None when no features were fetched)."""
    decision: dict[str, Any]
    """The decision returned: action, stage, rule, scores, degraded reason, versions, shadow hits."""
    timings_ms: dict[str, float]
    """Stage timings."""


_encoder = msgspec.json.Encoder()


class DecisionSink:
    """Queue and background writer of post-response work."""

    def __init__(self, redis: Redis, updater: VelocityUpdater, metrics: Metrics, spill_path: Path) -> None:
        self._redis = redis
        self._updater = updater
        self._metrics = metrics
        self._spill_path = spill_path
        self._queue: asyncio.Queue[tuple[Mapping[str, Any], bytes]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        """Start the writer (inside the running loop)."""
        self._task = asyncio.create_task(self._run(), name="decision-sink")

    def put(self, event: Mapping[str, Any], record: LogRecord) -> None:
        """Enqueue the work for one decided event; never blocks, never raises."""
        self._idle.clear()
        self._queue.put_nowait((event, _encoder.encode(record)))
        self._metrics.log_queue.set(self._queue.qsize())

    async def flush(self) -> None:
        """Wait until everything enqueued so far is written (or spilled)."""
        while not self._queue.empty() or not self._idle.is_set():
            await asyncio.sleep(0.001)

    async def close(self) -> None:
        """Flush, then stop the writer."""
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)
            self._metrics.log_queue.set(self._queue.qsize())
            if self._queue.empty():
                self._idle.set()

    async def _write(self, batch: list[tuple[Mapping[str, Any], bytes]]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for event, payload in batch:
                    self._updater.queue(pipe, event)
                    pipe.xadd(DECISION_STREAM, {"d": payload}, maxlen=STREAM_MAXLEN, approximate=True)
                async with asyncio.timeout(2.0):
                    await pipe.execute()
            self._metrics.log_written.inc(len(batch))
        except (RedisError, OSError, TimeoutError) as e:
            log.warning("decision log: Redis write failed (%s); spilling %d records", type(e).__name__, len(batch))
            self._spill([payload for _, payload in batch])

    def _spill(self, payloads: list[bytes]) -> None:
        self._spill_path.parent.mkdir(parents=True, exist_ok=True)
        with self._spill_path.open("ab") as f:
            for p in payloads:
                f.write(p + b"\n")
            f.flush()
        self._metrics.log_spilled.inc(len(payloads))
