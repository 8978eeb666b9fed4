"""One worker: its own uvloop event loop driving an `OpenLoopSender` over its share of the schedule.

Runs in the calling process (`--processes 1`) or in a spawned child. Decision bodies are parsed here, after the last
response, so parsing never sits inside a timed section.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import msgspec
import numpy as np
import uvloop
from numpy.typing import NDArray

from loadtest.client import OpenLoopSender

DecisionMode = Literal["none", "single", "batch"]


@dataclass(frozen=True)
class ShardSpec:
    """What one worker sends, where, and how."""

    host: str
    """Server host name or address."""
    port: int
    """Server TCP port."""
    requests: list[bytes]
    """Complete pre-encoded HTTP/1.1 requests, one per send."""
    offsets: list[float]
    """Intended send time of each request, seconds from the common start."""
    measured_from: float
    """Offset where warm-up ends; decisions of earlier requests are not counted."""
    max_connections: int
    """Cap on open connections; beyond it requests wait and their sends are late."""
    warm_connections: int
    """Connections opened before the clock starts."""
    timeout_s: float
    """A request without a response this long after its intended time counts as a timeout."""
    decisions: DecisionMode
    """Parse response bodies as one decision, a batch of decisions, or not at all."""


@dataclass
class DecisionCounts:
    """Tally of the decisions in the responses (measured window only)."""

    stage: Counter[str] = field(default_factory=Counter)
    """Decisions by `stage`; entries without one (batch errors) count as `error`."""
    action: Counter[str] = field(default_factory=Counter)
    """Decisions by `action`."""
    degraded: int = 0
    """Decisions with `degraded` true."""
    total: int = 0
    """Decisions seen."""
    unparsed: int = 0
    """2xx response bodies that were not a decision (or a batch of them)."""

    def merge(self, other: DecisionCounts) -> None:
        """Add another worker's tally to this one."""
        self.stage.update(other.stage)
        self.action.update(other.action)
        self.degraded += other.degraded
        self.total += other.total
        self.unparsed += other.unparsed


@dataclass(frozen=True)
class ShardResult:
    """What happened to each request of one worker; times are seconds from the common start."""

    offsets: NDArray[np.float64]
    """Intended send times."""
    sent: NDArray[np.float64]
    """Actual send times, NaN when never sent."""
    done: NDArray[np.float64]
    """Times the response was complete, NaN without a response."""
    status: NDArray[np.int16]
    """HTTP status, 0 without a response."""
    error: NDArray[np.int8]
    """Kind of failure, an index into `client.ERROR_KINDS` (0 when a response came)."""
    decisions: DecisionCounts
    """Tally of decisions in the measured window."""
    cpu_s: float
    """CPU seconds (user + system) this worker spent from the start of the schedule to its end."""
    wall_s: float
    """Wall seconds from the start of the schedule to the last outcome."""


class _Decision(msgspec.Struct):
    """Only the fields the report needs; everything else in the decision is skipped by the decoder."""

    stage: str | None = None
    action: str | None = None
    degraded: bool | None = None


class _Batch(msgspec.Struct):
    decisions: list[_Decision] = msgspec.field(default_factory=list)


_decode_one = msgspec.json.Decoder(_Decision).decode
_decode_batch = msgspec.json.Decoder(_Batch).decode


def count_decisions(bodies: list[bytes | None], counted: list[bool], mode: DecisionMode) -> DecisionCounts:
    """Tally `stage`, `action` and `degraded` over the bodies whose `counted` flag is set."""
    counts = DecisionCounts()
    if mode == "none":
        return counts
    for body, wanted in zip(bodies, counted, strict=True):
        if body is None or not wanted:
            continue
        try:
            decisions = [_decode_one(body)] if mode == "single" else _decode_batch(body).decisions
        except msgspec.DecodeError:
            counts.unparsed += 1
            continue
        for d in decisions:
            counts.total += 1
            counts.stage[d.stage or "error"] += 1
            counts.action[d.action or "error"] += 1
            counts.degraded += bool(d.degraded)
    return counts


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _raise_fd_limit() -> None:
    """Lift the soft open-files limit to the hard one: a stalled server can hold thousands of connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run_shard(spec: ShardSpec, wait_for_start: Callable[[], float]) -> ShardResult:
    """Warm up, ask `wait_for_start` for the common monotonic start time, run the schedule, return the outcomes."""
    _raise_fd_limit()
    sender = OpenLoopSender(
        spec.host,
        spec.port,
        spec.requests,
        spec.offsets,
        max_connections=spec.max_connections,
        timeout_s=spec.timeout_s,
        keep_bodies=spec.decisions != "none",
    )

    async def main() -> tuple[float, float, float]:
        await sender.warm_up(spec.warm_connections)
        start = wait_for_start()
        cpu0 = _cpu_seconds()
        await sender.run(start)
        return start, _cpu_seconds() - cpu0, time.monotonic() - start

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        start, cpu_s, wall_s = runner.run(main())
    offsets = np.asarray(spec.offsets, dtype=np.float64)
    counted = (offsets >= spec.measured_from).tolist()
    return ShardResult(
        offsets=offsets,
        sent=np.asarray(sender.sent, dtype=np.float64) - start,
        done=np.asarray(sender.done, dtype=np.float64) - start,
        status=np.asarray(sender.status, dtype=np.int16),
        error=np.asarray(sender.error, dtype=np.int8),
        decisions=count_decisions(sender.bodies, counted, spec.decisions),
        cpu_s=cpu_s,
        wall_s=wall_s,
    )
