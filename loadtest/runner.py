"""Split a schedule across worker processes, start them on a common clock, and merge their raw outcomes.

Workers are spawned (not forked: the parent may run threads, and a fork of a threaded process is unsafe), each
warms its connections, reports ready, and then receives one common `time.monotonic()` start a little in the future,
so all workers send on the same timeline. With one process the worker runs in the calling process.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

import numpy as np
from numpy.typing import NDArray

from loadtest.hdr import Histogram
from loadtest.schedule import split_round_robin
from loadtest.worker import DecisionMode, ProgressDelta, ShardResult, ShardSpec, run_shard

_START_LEAD_S = 0.1  # how far ahead of "everyone is ready" the common start is set


@dataclass(frozen=True)
class LoadPlan:
    """A whole run: where to send, what to send and when."""

    host: str
    """Server host."""
    port: int
    """Server port."""
    requests: list[bytes]
    """Pre-encoded requests, one per entry of `offsets`."""
    offsets: NDArray[np.float64]
    """Intended send times, seconds from the start, ascending."""
    measured_from: float
    """Warm-up length: requests due earlier are sent but left out of the statistics."""
    processes: int
    """Worker processes sharing the schedule round-robin."""
    max_connections: int
    """Connection cap per worker process."""
    warm_connections: int
    """Connections each worker opens before the start."""
    timeout_s: float
    """Per-request timeout, counted from the intended send time."""
    decisions: DecisionMode
    """How to parse response bodies."""
    late_s: float = 0.005
    """A send later than this after its intended time counts as late."""
    interval_s: float = 1.0
    """Width of the latency-over-time intervals."""
    progress: bool = True
    """Show the live progress line on stderr."""


RunResult = ShardResult
"""The merged result of all workers has the shape of one worker's."""


def run_load(plan: LoadPlan) -> RunResult:
    """Run the plan and return the merged raw outcomes."""
    specs = [_shard_spec(plan, idx) for idx in split_round_robin(len(plan.requests), plan.processes)]
    total_s = float(plan.offsets[-1]) if plan.offsets.size else 0.0
    with LiveLine(total_s, plan.measured_from, plan.progress) as live:
        if plan.processes == 1:
            start = lambda: live.started(time.monotonic() + _START_LEAD_S)  # noqa: E731
            shards = [run_shard(specs[0], start, live.add if plan.progress else None)]
        else:
            shards = _run_in_children(specs, live, plan.progress)
    result = shards[0]
    for shard in shards[1:]:
        result.merge(shard)
    return result


def _shard_spec(plan: LoadPlan, idx: NDArray[np.int64]) -> ShardSpec:
    return ShardSpec(
        host=plan.host,
        port=plan.port,
        requests=[plan.requests[i] for i in idx.tolist()],
        offsets=plan.offsets[idx].tolist(),
        measured_from=plan.measured_from,
        max_connections=plan.max_connections,
        warm_connections=plan.warm_connections,
        timeout_s=plan.timeout_s,
        decisions=plan.decisions,
        late_s=plan.late_s,
        interval_s=plan.interval_s,
    )


def _run_in_children(specs: list[ShardSpec], live: LiveLine, progress: bool) -> list[ShardResult]:
    ctx = mp.get_context("spawn")
    pipes: list[Connection] = []
    procs = []
    for spec in specs:
        parent_end, child_end = ctx.Pipe()
        proc = ctx.Process(target=_child_main, args=(child_end,), daemon=True)
        proc.start()
        child_end.close()
        parent_end.send((spec, progress))
        pipes.append(parent_end)
        procs.append(proc)
    try:
        for pipe in pipes:
            _expect(pipe.recv(), "ready")
        start = live.started(time.monotonic() + _START_LEAD_S)
        for pipe in pipes:
            pipe.send(start)
        results: dict[int, object] = {}
        while len(results) < len(pipes):
            for ready in wait([p for i, p in enumerate(pipes) if i not in results]):
                assert isinstance(ready, Connection)
                message = ready.recv()
                if isinstance(message, tuple) and message[0] == "progress":
                    live.add(message[1])
                else:
                    results[pipes.index(ready)] = _expect(message, "result")
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    return [r for r in results.values() if isinstance(r, ShardResult)]


def _expect(message: object, kind: str) -> object:
    if not isinstance(message, tuple) or message[0] == "error":
        detail = message[1] if isinstance(message, tuple) else message
        raise RuntimeError(f"load generator worker failed:\n{detail}")
    if message[0] != kind:
        raise RuntimeError(f"load generator worker sent {message[0]!r}, expected {kind!r}")
    return message[1]


def _child_main(pipe: Connection) -> None:
    """Entry point of a worker process: receive the spec, sync the start, send back the result."""
    try:
        spec, progress = pipe.recv()

        def wait_for_start() -> float:
            pipe.send(("ready", None))
            return float(pipe.recv())

        def on_progress(delta: ProgressDelta) -> None:
            pipe.send(("progress", delta))

        pipe.send(("result", run_shard(spec, wait_for_start, on_progress if progress else None)))
    except BaseException:
        pipe.send(("error", traceback.format_exc()))
        raise


class LiveLine:
    """The live progress line: sums the workers' deltas and redraws twice a second on stderr.

    On a terminal the line is rewritten in place; otherwise a full line is printed every `PLAIN_EVERY_S`.
    """

    PLAIN_EVERY_S = 5.0

    def __init__(self, total_s: float, measured_from: float, enabled: bool) -> None:
        self.total_s, self.measured_from, self.enabled = total_s, measured_from, enabled
        self.tty = sys.stderr.isatty()
        self._start: float | None = None
        self._lock = threading.Lock()
        self.latency = Histogram()
        self.finished = 0
        self.errors = 0
        self._recent: deque[tuple[float, int]] = deque(maxlen=8)  # (time, finished) for the current rate
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> LiveLine:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
            self._draw(final=True)

    def started(self, start: float) -> float:
        """Note the common start time (and pass it through)."""
        self._start = start
        return start

    def add(self, delta: ProgressDelta) -> None:
        """Add a worker's delta (called from the event loop or the pipe reader)."""
        with self._lock:
            self.latency.merge(delta.latency)
            self.finished += delta.finished
            self.errors += delta.errors

    def line(self, now: float | None = None) -> str:
        """The current line: elapsed, answered rate, p99 of the measured window so far, errors."""
        now = time.monotonic() if now is None else now
        elapsed = 0.0 if self._start is None else min(self.total_s, max(0.0, now - self._start))
        with self._lock:
            self._recent.append((now, self.finished))
            t0, n0 = self._recent[0]
            rate = (self.finished - n0) / (now - t0) if now > t0 else 0.0
            p99 = f"{self.latency.percentile_ms(99.0):8.2f}" if self.latency.total else "       -"
            phase = "warm-up" if elapsed < self.measured_from else "measure"
            return (
                f"[{elapsed:6.1f}/{self.total_s:.1f} s {phase}]  rate {rate:8.1f}/s  "
                f"p99 {p99} ms  errors {self.errors}  done {self.finished}"
            )

    def _draw(self, final: bool = False) -> None:
        text = self.line()
        if self.tty:
            sys.stderr.write("\r" + text + ("\n" if final else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def _loop(self) -> None:
        last_plain = time.monotonic()
        while not self._stop.wait(0.5):
            if self._start is None:
                continue
            if self.tty:
                self._draw()
            elif time.monotonic() - last_plain >= self.PLAIN_EVERY_S:
                last_plain = time.monotonic()
                self._draw()
