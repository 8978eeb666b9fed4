"""Split a schedule across worker processes, start them on a common clock, and merge their raw outcomes.

Workers are spawned (not forked: the parent may run threads, and a fork of a threaded process is unsafe), each
warms its connections, reports ready, and then receives one common `time.monotonic()` start a little in the future,
so all workers send on the same timeline. With one process the worker runs in the calling process.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from loadtest.schedule import split_round_robin
from loadtest.worker import DecisionCounts, DecisionMode, ShardResult, ShardSpec, run_shard

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
    progress: bool = True
    """Show a progress bar on stderr (only on a terminal)."""


@dataclass(frozen=True)
class RunResult:
    """Merged outcomes of all workers (arrays in no particular order, aligned with each other)."""

    offsets: NDArray[np.float64]
    """Intended send times."""
    sent: NDArray[np.float64]
    """Actual send times (NaN: never sent)."""
    done: NDArray[np.float64]
    """Response completion times (NaN: no response)."""
    status: NDArray[np.int16]
    """HTTP status (0: no response)."""
    error: NDArray[np.int8]
    """Failure kind, index into `client.ERROR_KINDS`."""
    decisions: DecisionCounts
    """Decision tally over the measured window."""
    cpu_s: float
    """CPU seconds all workers spent during the schedule."""
    wall_s: float
    """Wall seconds from the start to the last outcome (slowest worker)."""


def run_load(plan: LoadPlan) -> RunResult:
    """Run the plan and return the merged raw outcomes."""
    specs = [_shard_spec(plan, idx) for idx in split_round_robin(len(plan.requests), plan.processes)]
    total_s = float(plan.offsets[-1]) if plan.offsets.size else 0.0
    with _Progress(total_s, plan.progress) as progress:
        if plan.processes == 1:
            shards = [run_shard(specs[0], lambda: progress.started(time.monotonic() + _START_LEAD_S))]
        else:
            shards = _run_in_children(specs, progress)
    return _merge(shards)


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
    )


def _run_in_children(specs: list[ShardSpec], progress: _Progress) -> list[ShardResult]:
    ctx = mp.get_context("spawn")
    pipes: list[Connection] = []
    procs = []
    for spec in specs:
        parent_end, child_end = ctx.Pipe()
        proc = ctx.Process(target=_child_main, args=(child_end,), daemon=True)
        proc.start()
        child_end.close()
        parent_end.send(spec)
        pipes.append(parent_end)
        procs.append(proc)
    try:
        for pipe in pipes:
            _expect(pipe.recv(), "ready")
        start = progress.started(time.monotonic() + _START_LEAD_S)
        for pipe in pipes:
            pipe.send(start)
        results = [_expect(pipe.recv(), "result") for pipe in pipes]
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    return [r for r in results if isinstance(r, ShardResult)]


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
        spec = pipe.recv()

        def wait_for_start() -> float:
            pipe.send(("ready", None))
            return float(pipe.recv())

        pipe.send(("result", run_shard(spec, wait_for_start)))
    except BaseException:
        pipe.send(("error", traceback.format_exc()))
        raise


def _merge(shards: list[ShardResult]) -> RunResult:
    decisions = DecisionCounts()
    for shard in shards:
        decisions.merge(shard.decisions)
    return RunResult(
        offsets=np.concatenate([s.offsets for s in shards]),
        sent=np.concatenate([s.sent for s in shards]),
        done=np.concatenate([s.done for s in shards]),
        status=np.concatenate([s.status for s in shards]),
        error=np.concatenate([s.error for s in shards]),
        decisions=decisions,
        cpu_s=sum(s.cpu_s for s in shards),
        wall_s=max(s.wall_s for s in shards),
    )


class _Progress:
    """A time-based progress bar updated from a thread (twice a second: negligible next to the workers)."""

    def __init__(self, total_s: float, enabled: bool) -> None:
        self.total_s = total_s
        self.enabled = enabled
        self._start: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> _Progress:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def started(self, start: float) -> float:
        """Note the common start time (and pass it through)."""
        self._start = start
        return start

    def _loop(self) -> None:
        with tqdm(total=round(self.total_s, 1), unit="s", desc="load", disable=None, leave=False) as bar:
            while not self._stop.wait(0.5):
                if self._start is not None:
                    bar.n = round(min(self.total_s, max(0.0, time.monotonic() - self._start)), 1)
                    bar.refresh()
