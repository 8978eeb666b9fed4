"""One worker: its own uvloop event loop driving an `OpenLoopSender` over its share of the schedule.

Runs in the calling process (`--processes 1`) or in a spawned child. Decision bodies are parsed here, after the last
response, so parsing never sits inside a timed section.
"""

from __future__ import annotations

import asyncio
import math
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

from loadtest.client import ERROR_KINDS, OK, OpenLoopSender
from loadtest.hdr import FloatArray, Histogram, Timeline

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
    """Offset where warm-up ends; earlier requests are sent but left out of the statistics."""
    max_connections: int
    """Cap on open connections; beyond it requests wait and their sends are late."""
    warm_connections: int
    """Connections opened before the clock starts."""
    timeout_s: float
    """A request without a response this long after its intended time counts as a timeout."""
    decisions: DecisionMode
    """Parse response bodies as one decision, a batch of decisions, or not at all."""
    late_s: float = 0.005
    """A send later than this after its intended time counts as late."""
    interval_s: float = 1.0
    """Width of the latency-over-time intervals."""


@dataclass
class DecisionCounts:
    """Tally of the decisions in the responses (measured window only)."""

    stage: Counter[str] = field(default_factory=Counter)
    """Decisions by `stage`; entries without one (batch errors) count as `error`."""
    action: Counter[str] = field(default_factory=Counter)
    """Decisions by `action`."""
    rule: Counter[str] = field(default_factory=Counter)
    """Decisions taken by a pre-policy (`stage == "pre_policy"`), by the `rule` that matched."""
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
        self.rule.update(other.rule)
        self.degraded += other.degraded
        self.total += other.total
        self.unparsed += other.unparsed


@dataclass
class Tally:
    """Request counts over the measured window; workers' tallies add up."""

    count: int = 0
    """Requests due in the window."""
    sent: int = 0
    """Requests actually written to a connection."""
    answered: int = 0
    """Requests with an HTTP response (any status)."""
    ok: int = 0
    """Responses with a 2xx status."""
    late_sends: int = 0
    """Sent later than the threshold after their intended time, or never sent."""
    by_status: Counter[str] = field(default_factory=Counter)
    """Non-2xx responses by HTTP status."""
    by_kind: Counter[str] = field(default_factory=Counter)
    """Failed requests by kind: `http_4xx`, `http_5xx`, `connect_error`, `timeout`, `disconnected`, ..."""
    statuses: Counter[str] = field(default_factory=Counter)
    """Every response by HTTP status."""
    last_sent: float = math.nan
    """Latest actual send time (s from the start)."""
    last_done: float = math.nan
    """Latest response time (s from the start)."""

    def merge(self, other: Tally) -> None:
        """Add another worker's tally to this one."""
        self.count += other.count
        self.sent += other.sent
        self.answered += other.answered
        self.ok += other.ok
        self.late_sends += other.late_sends
        self.by_status.update(other.by_status)
        self.by_kind.update(other.by_kind)
        self.statuses.update(other.statuses)
        self.last_sent = float(np.fmax(self.last_sent, other.last_sent))
        self.last_done = float(np.fmax(self.last_done, other.last_done))

    @property
    def errors(self) -> int:
        """Requests that failed (non-2xx or no response)."""
        return sum(self.by_kind.values())


@dataclass
class ShardResult:
    """What one worker (or, merged, the whole run) measured: counts and histograms, no per-request lists."""

    tally: Tally
    """Request counts over the measured window."""
    latency: Histogram
    """Response time minus intended send time, every response in the window."""
    service: Histogram
    """Response time minus actual send time: what a closed-loop client would report."""
    lateness: Histogram
    """Actual minus intended send time of every request sent in the window."""
    timeline: Timeline
    """Latency by interval of intended send time, warm-up included."""
    decisions: DecisionCounts
    """Tally of decisions in the measured window."""
    cpu_s: float
    """CPU seconds (user + system) the worker spent from the start of the schedule to its end."""
    wall_s: float
    """Wall seconds from the start of the schedule to the last outcome."""

    def merge(self, other: ShardResult) -> None:
        """Add another worker's result (CPU adds up, wall time is the slowest worker's)."""
        self.tally.merge(other.tally)
        self.latency.merge(other.latency)
        self.service.merge(other.service)
        self.lateness.merge(other.lateness)
        self.timeline.merge(other.timeline)
        self.decisions.merge(other.decisions)
        self.cpu_s += other.cpu_s
        self.wall_s = max(self.wall_s, other.wall_s)


@dataclass
class ProgressDelta:
    """What one worker finished since its previous report: sent to the live progress line twice a second."""

    due: int
    """Requests whose send time has come so far (absolute, not a delta)."""
    finished: int
    """Requests that got an outcome since the previous report."""
    errors: int
    """Of those, failures (non-2xx or no response)."""
    latency: Histogram
    """Latency of the new responses in the measured window."""


class _Decision(msgspec.Struct):
    """Only the fields the report needs; everything else in the decision is skipped by the decoder."""

    stage: str | None = None
    action: str | None = None
    rule: str | None = None
    degraded: bool | None = None


class _Batch(msgspec.Struct):
    decisions: list[_Decision] = msgspec.field(default_factory=list)


_decode_one = msgspec.json.Decoder(_Decision).decode
_decode_batch = msgspec.json.Decoder(_Batch).decode
PRE_POLICY = "pre_policy"


def count_decisions(bodies: list[bytes | None], counted: list[bool], mode: DecisionMode) -> DecisionCounts:
    """Tally `stage`, `action`, pre-policy `rule` and `degraded` over the bodies whose `counted` flag is set."""
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
            if d.stage == PRE_POLICY:
                counts.rule[d.rule or "(none)"] += 1
            counts.degraded += bool(d.degraded)
    return counts


def summarize(
    spec: ShardSpec,
    sent: FloatArray,
    done: FloatArray,
    status: NDArray[np.int16],
    error: NDArray[np.int8],
    bodies: list[bytes | None],
) -> tuple[Tally, Histogram, Histogram, Histogram, Timeline, DecisionCounts]:
    """Counts and histograms of one worker's raw outcomes (times in s from the start, NaN when it never happened)."""
    offsets = np.asarray(spec.offsets, dtype=np.float64)
    window = offsets >= spec.measured_from
    answered = ~np.isnan(done)
    was_sent = ~np.isnan(sent)
    tally = Tally(count=int(window.sum()))
    w_answered, w_sent = answered & window, was_sent & window
    tally.sent = int(w_sent.sum())
    tally.answered = int(w_answered.sum())
    w_status = status[w_answered]
    tally.ok = int(((w_status >= 200) & (w_status < 300)).sum())
    lateness = sent - offsets
    tally.late_sends = int((window & (~was_sent | (lateness > spec.late_s))).sum())
    for code, n in zip(*np.unique(w_status, return_counts=True), strict=True):
        tally.statuses[str(int(code))] = int(n)
        if not 200 <= code < 300:
            tally.by_status[str(int(code))] = int(n)
            tally.by_kind[f"http_{int(code) // 100}xx"] += int(n)
    for kind, n in enumerate(np.bincount(error[window], minlength=len(ERROR_KINDS)).tolist()):
        if kind != OK and n:
            tally.by_kind[ERROR_KINDS[kind]] = n
    if w_sent.any():
        tally.last_sent = float(sent[w_sent].max())
    if w_answered.any():
        tally.last_done = float(done[w_answered].max())
    latency, service, late_hist = Histogram(), Histogram(), Histogram()
    latency.record(done[w_answered] - offsets[w_answered])
    service.record(done[w_answered] - sent[w_answered])
    late_hist.record(lateness[w_sent])
    timeline = Timeline(spec.interval_s)
    timeline.record(offsets[answered], done[answered] - offsets[answered])
    decisions = count_decisions(bodies, window.tolist(), spec.decisions)
    return tally, latency, service, late_hist, timeline, decisions


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _raise_fd_limit() -> None:
    """Lift the soft open-files limit to the hard one: a stalled server can hold thousands of connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run_shard(
    spec: ShardSpec, wait_for_start: Callable[[], float], on_progress: Callable[[ProgressDelta], None] | None = None
) -> ShardResult:
    """Warm up, ask `wait_for_start` for the common monotonic start time, run the schedule, return the outcomes.

    `on_progress`, when given, is called from the event loop every `PROGRESS_S` with what finished meanwhile.
    """
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
    reporter = _ProgressReporter(sender, spec, on_progress)

    async def main() -> tuple[float, float, float]:
        await sender.warm_up(spec.warm_connections)
        start = wait_for_start()
        cpu0 = _cpu_seconds()
        if on_progress is not None:
            asyncio.get_running_loop().call_later(PROGRESS_S, reporter.tick)
        await sender.run(start)
        reporter.stop()
        return start, _cpu_seconds() - cpu0, time.monotonic() - start

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        start, cpu_s, wall_s = runner.run(main())
    tally, latency, service, lateness, timeline, decisions = summarize(
        spec,
        np.asarray(sender.sent, dtype=np.float64) - start,
        np.asarray(sender.done, dtype=np.float64) - start,
        np.asarray(sender.status, dtype=np.int16),
        np.asarray(sender.error, dtype=np.int8),
        sender.bodies,
    )
    return ShardResult(tally, latency, service, lateness, timeline, decisions, cpu_s, wall_s)


PROGRESS_S = 0.5


class _ProgressReporter:
    """Every `PROGRESS_S`, hands what finished since the last call to `on_progress` (cheap: a slice and a bincount)."""

    def __init__(
        self, sender: OpenLoopSender, spec: ShardSpec, on_progress: Callable[[ProgressDelta], None] | None
    ) -> None:
        self.sender, self.spec, self.on_progress = sender, spec, on_progress
        self.position = 0
        self.stopped = False

    def tick(self) -> None:
        """Report, then schedule the next report."""
        if self.stopped:
            return
        self.report()
        asyncio.get_running_loop().call_later(PROGRESS_S, self.tick)

    def stop(self) -> None:
        """Send the last delta and stop ticking."""
        if not self.stopped and self.on_progress is not None:
            self.report()
        self.stopped = True

    def report(self) -> None:
        """Build and hand over one delta."""
        if self.on_progress is None:
            return
        s = self.sender
        new = s.finished[self.position :]
        self.position += len(new)
        due, done, status, offsets = s.due, s.done, s.status, self.spec.offsets
        frm = self.spec.measured_from
        lat = [done[i] - due[i] for i in new if status[i] and offsets[i] >= frm]
        errors = sum(1 for i in new if not 200 <= status[i] < 300)
        hist = Histogram()
        hist.record(np.asarray(lat, dtype=np.float64))
        self.on_progress(ProgressDelta(due=s.dispatched, finished=len(new), errors=errors, latency=hist))
