"""After the response: velocity updates and the decision log, batched onto one Redis pipeline.

Requests only enqueue (no I/O on the critical path); one worker drains the queue in batches, so that under load many
events share a round trip. The worker lingers `LINGER_S` after the first record of a batch so that a steady stream
of requests fills it (one round trip, one Redis wake-up for several events instead of one each), and it sends the
batch through `features.transport` (RESP built once per batch, replies parsed by hiredis in one pass); the update
script is called by SHA and loaded only when Redis answers NOSCRIPT (a new or restarted Redis).

When Redis refuses, records go to the local spill file (`engine.spill`); while anything is
spilled, new records are spilled behind it, so the stream receives every record in the order decided. The spill is
replayed (log records and their velocity updates) as soon as Redis answers again, and at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from engine.breaker import CircuitBreaker
from engine.metrics import Metrics
from engine.spill import SpillFile
from features.keys import DECISION_STREAM
from features.transport import Args, Transport, Verb, transport_for
from features.updates import VelocityUpdater
from features.velocity import UPDATE_LUA

log = logging.getLogger(__name__)

BATCH = 32
"""Most records per round trip: the velocity updates of one batch run back to back in Redis (~200 µs of Lua per
event), so a big batch would hold up the feature reads of live requests behind it (head-of-line blocking)."""
REPLAY_CHUNK = 500
STREAM_MAXLEN = 10_000_000
WRITE_TIMEOUT_S = 2.0
IDLE_REPLAY_S = 0.5
"""How often, with no traffic, the writer retries a pending spill."""
LINGER_S = 0.002
"""How long the writer waits for more records after the first of a batch (velocity lags the response by this)."""

EVALSHA, XADD = Verb("EVALSHA"), Verb("XADD")
_XADD_HEAD = (b"MAXLEN", b"~", STREAM_MAXLEN, b"*", b"d")


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
        self.redis = redis  # a property: the transport follows the client (tests swap in a dead one)
        self._updater = updater
        self._metrics = metrics
        self.spill = spill
        self.breaker = breaker
        self._queue: asyncio.Queue[tuple[Mapping[str, Any], bytes]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        self._maybe_spilled = True
        """False once the spill file was seen empty and nothing was spilled since: spares a stat per batch."""

    @property
    def redis(self) -> Redis:
        """The client the records go to."""
        return self._redis

    @redis.setter
    def redis(self, client: Redis) -> None:
        self._redis = client
        self._transport: Transport = transport_for(client)

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
                async with asyncio.timeout(IDLE_REPLAY_S):
                    first = await self._queue.get()
            except TimeoutError:
                if self.spill.pending():
                    await self._replay()
                continue
            self._busy = True
            try:
                if self._queue.qsize() < BATCH - 1:
                    await asyncio.sleep(LINGER_S)
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
        # The breaker is not consulted here: it also opens on feature timeouts under CPU overload, when Redis is fine,
        # and spilling (fsync) then would only add load. A Redis that is really away refuses fast; the write is
        # bounded by WRITE_TIMEOUT_S either way. Replay, below, does wait for the breaker to close.
        if self._maybe_spilled and self._spill_pending():
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
        """Velocity updates and log records of a batch in one round trip; raises on any failure (the caller spills,
        and replays later: the updates are idempotent by event id, the ETL by `event_id`)."""
        sha = self._updater.sha
        batch = self._transport.batch()
        updates: list[Args] = []
        where: list[int] = []  # reply index of each update
        n = 0
        for event, payload in zip(events, payloads, strict=True):
            for call in self._updater.updates(event):
                args = Args(call)
                batch.add(EVALSHA, sha, args)
                updates.append(args)
                where.append(n)
                n += 1
            batch.add(XADD, DECISION_STREAM, Args((*_XADD_HEAD, payload)))
            n += 1
        async with asyncio.timeout(WRITE_TIMEOUT_S):
            replies = await self._transport.execute(batch, WRITE_TIMEOUT_S)
            unknown = [args for args, i in zip(updates, where, strict=True) if _is_noscript(replies[i])]
            _raise_first_error(r for r in replies if not _is_noscript(r))
            if unknown:
                # a Redis that never saw the script (new, restarted, flushed): load it, call those again
                await self.redis.script_load(UPDATE_LUA)
                again = self._transport.batch()
                for args in unknown:
                    again.add(EVALSHA, sha, args)
                _raise_first_error(await self._transport.execute(again, WRITE_TIMEOUT_S))

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

    def _spill_pending(self) -> bool:
        pending = self.spill.pending()
        self._maybe_spilled = pending
        return pending

    def _spill(self, payloads: list[bytes]) -> None:
        self._maybe_spilled = True
        self.spill.append(payloads)
        self._metrics.log_spilled.inc(len(payloads))


def _is_noscript(reply: Any) -> bool:
    # hiredis keeps the error code in the text; redis-py (the cluster path) turns it into NoScriptError
    return isinstance(reply, NoScriptError) or (isinstance(reply, Exception) and str(reply).startswith("NOSCRIPT"))


def _raise_first_error(replies: Iterable[Any]) -> None:
    for reply in replies:
        if isinstance(reply, Exception):
            raise RedisError(f"decision sink: Redis refused a write: {reply}")


def _event_of(payload: bytes) -> dict[str, Any]:
    """The event of a spilled record, typed again for the velocity update."""
    event = _event_decoder.decode(payload).event
    event["occurred_at"] = datetime.fromisoformat(event["occurred_at"])
    return event
