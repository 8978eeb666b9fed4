"""From options to results: build the requests and schedule, run once, or search for the highest sustainable rate."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import polars as pl

from loadtest.bodies import (
    MAX_SYNTHETIC_EVENTS,
    encode_bodies,
    http_request,
    load_events,
    new_run_id,
    prepare_events,
)
from loadtest.report import Report, RunInfo, build_report
from loadtest.runner import LoadPlan, RunResult, run_load
from loadtest.scenario import Replay, load_replay
from loadtest.schedule import Arrivals, make_schedule, request_count
from loadtest.synthetic import SyntheticConfig
from loadtest.worker import DecisionMode

DECIDE_PATH = "/v1/decide"
BATCH_PATH = "/v1/decide/batch"


@dataclass(frozen=True, kw_only=True)
class Options:
    """Everything a run needs; the CLI flags map one to one."""

    url: str = "http://127.0.0.1:8000"
    """Base URL of the engine (http only)."""
    path: str = DECIDE_PATH
    """Request path; decide paths are POSTed with events, any other path is a GET without body."""
    rate: float = 100.0
    """Intended requests per second (with `find_max`: the first step)."""
    duration: float = 10.0
    """Measured seconds (per step with `find_max`)."""
    warmup: float = 2.0
    """Seconds sent before the measured window and left out of the statistics."""
    sla_p99_ms: float | None = None
    """The run fails (exit code 1) when p99 latency exceeds this."""
    api_key: str | None = None
    """Sent as `Authorization: Bearer`."""
    json: Path | None = None
    """Write the JSON report here."""
    html: Path | None = None
    """Write the self-contained HTML report here."""
    seed: int = 0
    """Seed of the synthetic events and of Poisson arrivals."""
    batch_size: int = 1
    """Events per request; above 1 the decide path becomes the batch endpoint."""
    arrivals: Arrivals = "constant"
    """`constant` gaps or `poisson` arrivals."""
    processes: int = 1
    """Worker processes, each with its own event loop and connections."""
    events: Path | None = None
    """Replay events from this Parquet file, in order, instead of generating them."""
    find_max: bool = False
    """Raise the rate step by step until the SLA, errors or late sends break; report the highest sustainable."""
    timeout: float = 5.0
    """Seconds after its intended send time at which a request counts as timed out."""
    late_ms: float = 5.0
    """A send later than this after its intended time counts as a late send."""
    max_connections: int = 2000
    """Connection cap per process; requests that find no connection wait (and are late)."""
    progress: bool = True
    """Show the live progress line (rate, p99 so far, errors) on stderr."""
    expect_filter_ratio: tuple[float, float] | None = None
    """The run fails (exit code 1) when the share of decisions taken by pre-policies falls outside [min, max]."""
    scenario: Path | None = None
    """The scenario file the defaults came from (see `loadtest.scenario`)."""
    synthetic: SyntheticConfig | None = None
    """Generator config of the events (from a scenario); None: the default config seeded by `seed`."""
    replay: Replay | None = None
    """Replay of a mapped event log (from a scenario)."""
    base_dir: Path = Path()
    """Folder relative paths of the scenario start from."""

    def validate(self) -> None:
        """Fail fast, naming the flag, on values that cannot work."""
        checks = [
            (self.rate > 0, "--rate must be > 0"),
            (self.duration > 0, "--duration must be > 0"),
            (self.warmup >= 0, "--warmup must be >= 0"),
            (self.batch_size >= 1, "--batch-size must be >= 1"),
            (self.processes >= 1, "--processes must be >= 1"),
            (self.timeout > 0, "--timeout must be > 0"),
            (self.max_connections >= 1, "--max-connections must be >= 1"),
            (self.sla_p99_ms is None or self.sla_p99_ms > 0, "--sla-p99-ms must be > 0"),
            (not self.find_max or self.sla_p99_ms is not None, "--find-max needs --sla-p99-ms to know when to stop"),
            (self.path.startswith("/"), "--path must start with '/'"),
            (self.late_ms >= 0, "--late-ms must be >= 0"),
            (
                self.expect_filter_ratio is None
                or 0 <= self.expect_filter_ratio[0] <= self.expect_filter_ratio[1] <= 1,
                "--expect-filter-ratio must be MIN:MAX with 0 <= MIN <= MAX <= 1",
            ),
            (not (self.find_max and self.timed_replay), "--find-max cannot drive a replay paced by `replay.speed`"),
            (not (self.timed_replay and self.batch_size > 1), "--batch-size must be 1 with a replay paced by speed"),
            (urlsplit(self.url).scheme == "http", "--url must be http://host[:port] (https is not supported)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def timed_replay(self) -> bool:
        """Send times come from the replayed log's timestamps, not from `rate`."""
        return self.replay is not None and self.replay.speed is not None

    @property
    def effective_path(self) -> str:
        """The path actually requested: the batch endpoint when batching on the decide path."""
        return BATCH_PATH if self.batch_size > 1 and self.path.rstrip("/") == DECIDE_PATH else self.path

    @property
    def decisions(self) -> DecisionMode:
        """How responses are parsed."""
        path = self.effective_path
        if not path.startswith(DECIDE_PATH):
            return "none"
        return "batch" if path.startswith(BATCH_PATH) else "single"


def _target(url: str) -> tuple[str, int, str]:
    """Connect address (resolved once: no DNS per connection), port and Host header."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
    return str(address), port, parts.netloc


def load_source(opts: Options, n_events: int) -> pl.DataFrame:
    """The events a run cycles through (not for timed replays, which take theirs with their send times)."""
    if opts.replay is not None:
        return prepare_events(load_replay(opts.replay, opts.base_dir, None)[0])
    return load_events(n_events, opts.seed, opts.events, opts.synthetic)


def run_once(opts: Options, rate: float, events: pl.DataFrame | None = None) -> tuple[Report, RunResult]:
    """One open-loop run at `rate`; `events` may be passed in to skip loading them again."""
    address, port, host_header = _target(opts.url)
    check_reachable(address, port, opts.timeout)
    run_id = new_run_id()
    horizon = opts.warmup + opts.duration
    path = opts.effective_path
    arrivals: str = opts.arrivals
    if opts.timed_replay:
        assert opts.replay is not None
        frame, replay_offsets = load_replay(opts.replay, opts.base_dir, horizon)
        assert replay_offsets is not None
        offsets = replay_offsets
        events, arrivals = prepare_events(frame), "replay"
        rate = round(int((offsets >= opts.warmup).sum()) / opts.duration, 3)
    else:
        offsets = make_schedule(opts.arrivals, rate, horizon, opts.seed)
    if opts.decisions == "none":
        requests = [http_request("GET", path, host_header, None, opts.api_key)] * len(offsets)
    else:
        if events is None:
            events = load_source(opts, len(offsets) * opts.batch_size)
        bodies = encode_bodies(events, len(offsets), opts.batch_size, run_id)
        requests = [http_request("POST", path, host_header, body, opts.api_key) for body in bodies]
    plan = LoadPlan(
        host=address,
        port=port,
        requests=requests,
        offsets=offsets,
        measured_from=opts.warmup,
        processes=opts.processes,
        max_connections=opts.max_connections,
        warm_connections=min(opts.max_connections, max(8, int(rate / opts.processes / 100))),
        timeout_s=opts.timeout,
        decisions=opts.decisions,
        late_s=opts.late_ms / 1000.0,
        interval_s=max(0.1, horizon / 300),  # at most ~300 points on the latency-over-time plot
        progress=opts.progress,
    )
    result = run_load(plan)
    info = RunInfo(
        run_id=run_id,
        method="GET" if opts.decisions == "none" else "POST",
        url=opts.url.rstrip("/") + path,
        arrivals=arrivals,
        rate=rate,
        duration_s=opts.duration,
        warmup_s=opts.warmup,
        batch_size=opts.batch_size,
        processes=opts.processes,
        late_threshold_ms=opts.late_ms,
        sla_p99_ms=opts.sla_p99_ms,
        expect_filter_ratio=opts.expect_filter_ratio,
        scenario=str(opts.scenario) if opts.scenario else None,
    )
    return build_report(info, result), result


class Unreachable(OSError):
    """Nothing accepts connections at the target: a usage or environment problem (exit code 2), not a verdict."""


def check_reachable(address: str, port: int, timeout: float) -> None:
    """Open and close one TCP connection, so that a wrong URL fails fast with a clear message."""
    try:
        socket.create_connection((address, port), timeout=min(timeout, 5.0)).close()
    except OSError as exc:
        raise Unreachable(f"cannot connect to {address}:{port}: {exc.strerror or exc}") from None


MAX_LATE_SHARE = 0.001  # late sends tolerated by find-max: a rare scheduler hiccup is not saturation
STEP_FACTOR = 1.5  # rate multiplier while searching upwards
REFINE_STEPS = 2  # bisection steps between the last good and the first bad rate
MAX_STEPS = 16


def sustainable(report: Report) -> bool:
    """The run met its SLA with no errors and (almost) no late sends."""
    return bool(report.sla_met) and not report.errors.total and report.late_sends <= MAX_LATE_SHARE * report.count


@dataclass(frozen=True)
class Search:
    """The outcome of `find_max`."""

    steps: list[Report]
    """Every step, in order."""
    best: tuple[Report, RunResult] | None
    """The highest sustainable step, if any."""
    last: tuple[Report, RunResult] | None = None
    """The last step run (what the HTML shows when no step was sustainable)."""

    @property
    def curve(self) -> list[CurvePoint]:
        """Rate -> p99, step by step in ascending order of rate."""
        points = [
            CurvePoint(
                target_rate=r.target_rate,
                achieved_rate=r.achieved_rate,
                p99_ms=r.latency_ms.p99,
                p50_ms=r.latency_ms.p50,
                errors=r.errors.total,
                late_sends=r.late_sends,
                sustainable=sustainable(r),
            )
            for r in self.steps
        ]
        return sorted(points, key=lambda p: p.target_rate)

    @property
    def max_rate(self) -> float | None:
        """The highest sustainable rate found."""
        return self.best[0].target_rate if self.best else None


class CurvePoint(msgspec.Struct, frozen=True, kw_only=True):
    """One step of the capacity search."""

    target_rate: float
    """Requests per second asked for."""
    achieved_rate: float
    """Requests per second sent."""
    p99_ms: float
    """p99 latency from intended send time."""
    p50_ms: float
    """Median latency."""
    errors: int
    """Failed requests."""
    late_sends: int
    """Late or never-sent requests."""
    sustainable: bool
    """SLA met, no errors, late sends within tolerance."""


def find_max(opts: Options, log: Callable[[str], None] = print) -> Search:
    """Multiply the rate by `STEP_FACTOR` until a step is not `sustainable`, then bisect `REFINE_STEPS` times."""
    events = None
    if opts.decisions != "none":
        n = request_count(opts.rate, opts.warmup + opts.duration) * opts.batch_size
        events = load_source(opts, max(n, MAX_SYNTHETIC_EVENTS))
    steps: list[Report] = []
    best: tuple[Report, RunResult] | None = None
    last: tuple[Report, RunResult] | None = None
    good, bad = 0.0, float("inf")
    rate = opts.rate
    refined = 0
    while len(steps) < MAX_STEPS:
        report, result = run_once(replace(opts, find_max=False), rate, events)
        last = (report, result)
        steps.append(report)
        log(_step_line(report))
        if sustainable(report):
            good, best = rate, (report, result)
        else:
            bad = rate
        if bad == float("inf"):
            rate *= STEP_FACTOR
        elif good == 0.0 or refined >= REFINE_STEPS:
            break
        else:
            refined += 1
            rate = (good * bad) ** 0.5
        time.sleep(0.5)  # let the server drain between steps
    return Search(steps, best, last)


def _step_line(r: Report) -> str:
    verdict = "ok " if sustainable(r) else "BAD"
    errors = r.errors.total
    return (
        f"{verdict} rate {r.target_rate:9.1f}/s  sent {r.achieved_rate:9.1f}/s  p99 {r.latency_ms.p99:8.2f} ms  "
        f"errors {errors}  late {r.late_sends}  cpu {r.generator_cpu_pct:.0f}%"
    )
