"""After the response: velocity updates and the decision log, batched onto one Redis pipeline.

Requests only enqueue (no I/O on the critical path); one worker drains the queue in batches, so that under load many
events share a round trip. When Redis refuses, records go to the local spill file (`engine.spill`); while anything is
spilled, new records are spilled behind it, so the stream receives every record in the order decided. The spill is
replayed (log records and their velocity updates) as soon as Redis answers again, and at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from engine.breaker import CircuitBreaker
from engine.metrics import Metrics
from engine.spill import SpillFile
from features.keys import DECISION_STREAM
from features.updates import VelocityUpdater

log = logging.getLogger(__name__)

BATCH = 256
REPLAY_CHUNK = 500
STREAM_MAXLEN = 10_000_000
WRITE_TIMEOUT_S = 2.0
IDLE_REPLAY_S = 0.5
"""How often, with no traffic, the writer retries a pending spill."""


class LogRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One decision as the ETL sees it (DESIGN.md, decision log)."""

    event: dict[str, Any]
    """The event as received (ids are tokens; the schema accepts no card numbers)."""
    features: dict[str, Any] | None
    """The features the model saw (None when no features were fetched)."""
    decision: dict[str, Any]
    """The decision returned: action, stage, rule, scores, degraded reason, versions, shadow hits."""
    timings_ms: dict[str, float]
    """Stage timings."""
    decided_at: datetime
    """When the decision was returned (UTC); the ETL partitions by its date."""
    shadow_policy: dict[str, Any] | None = None
    """What the shadow candidate policy would have decided, when one is configured."""
    challenger: dict[str, Any] | None = None
    """The challenger model's scores and would-be action, when one is configured and the model decided."""


class _Event(msgspec.Struct):
    event: dict[str, Any]


_encoder = msgspec.json.Encoder()
_event_decoder = msgspec.json.Decoder(_Event)


class DecisionSink:
    """Queue and background writer of post-response work."""

    def __init__(
        self,
        redis: Redis,
        updater: VelocityUpdater,
        metrics: Metrics,
        spill: SpillFile,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.redis = redis
        self._updater = updater
        self._metrics = metrics
        self.spill = spill
        self.breaker = breaker
        self._queue: asyncio.Queue[tuple[Mapping[str, Any], bytes]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._busy = False

    def start(self) -> None:
        """Start the writer (inside the running loop); it replays any spill left by a previous run first."""
        self._task = asyncio.create_task(self._run(), name="decision-sink")

    def put(self, event: Mapping[str, Any], record: LogRecord) -> None:
        """Enqueue the work for one decided event; never blocks, never raises."""
        self._queue.put_nowait((event, _encoder.encode(record)))
        self._metrics.log_queue.set(self._queue.qsize())

    async def flush(self, replay: bool = False) -> None:
        """Wait until everything enqueued so far is written or spilled (and, with `replay`, the spill replayed)."""
        while not self._queue.empty() or self._busy:
            await asyncio.sleep(0.001)
        if replay:
            await self._replay()

    async def close(self) -> None:
        """Flush (one last replay attempt included), then stop the writer."""
        await self.flush(replay=True)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        await self._replay()
        while True:
            try:
                first = await asyncio.wait_for(self._queue.get(), IDLE_REPLAY_S)
            except TimeoutError:
                if self.spill.pending():
                    await self._replay()
                continue
            self._busy = True
            try:
                batch = [first]
                while len(batch) < BATCH and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                await self._write(batch)
            except Exception:
                log.exception("decision sink: unexpected error; records spilled")
            finally:
                self._busy = False
                self._metrics.log_queue.set(self._queue.qsize())

    async def _write(self, batch: list[tuple[Mapping[str, Any], bytes]]) -> None:
        payloads = [p for _, p in batch]
        if self.spill.pending() or (self.breaker is not None and self.breaker.is_open):
            # order: nothing may overtake what already waits in the spill file
            self._spill(payloads)
            await self._replay()
            return
        try:
            await self._send([e for e, _ in batch], payloads)
            self._metrics.log_written.inc(len(batch))
        except (RedisError, OSError, TimeoutError) as e:
            log.warning("decision log: Redis write failed (%s); spilling %d records", type(e).__name__, len(batch))
            self._spill(payloads)

    async def _send(self, events: Sequence[Mapping[str, Any]], payloads: list[bytes]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for event, payload in zip(events, payloads, strict=True):
                self._updater.queue(pipe, event)
                pipe.xadd(DECISION_STREAM, {"d": payload}, maxlen=STREAM_MAXLEN, approximate=True)
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await pipe.execute()

    async def _replay(self) -> None:
        """Send spilled records to Redis in order, chunk by chunk; stop at the first failure."""
        if self.breaker is not None and self.breaker.is_open:
            return
        while self.spill.pending():
            payloads, offset = self.spill.read(REPLAY_CHUNK)
            if not payloads:
                return
            events = [_event_of(p) for p in payloads]
            try:
                await self._send(events, payloads)
            except (RedisError, OSError, TimeoutError):
                return
            self.spill.advance(offset)
            self._metrics.log_replayed.inc(len(payloads))
            self._metrics.log_written.inc(len(payloads))

    def _spill(self, payloads: list[bytes]) -> None:
        self.spill.append(payloads)
        self._metrics.log_spilled.inc(len(payloads))


def _event_of(payload: bytes) -> dict[str, Any]:
    """The event of a spilled record, typed again for the velocity update."""
    event = _event_decoder.decode(payload).event
    event["occurred_at"] = datetime.fromisoformat(event["occurred_at"])
    return event
