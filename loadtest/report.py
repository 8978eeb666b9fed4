"""Statistics of a run, as a typed report for JSON and a table for the terminal.

Latency is response completion minus *intended* send time (what a user of the service would have waited); the
service time (completion minus actual send) is reported beside it, because the gap between the two is exactly what a
closed-loop generator hides. Statistics cover the measured window only: requests due at or after the warm-up.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from loadtest.client import ERROR_KINDS, OK
from loadtest.runner import RunResult
from loadtest.schedule import FloatArray, percentiles


class Latency(msgspec.Struct, frozen=True):
    """Latency percentiles in milliseconds (exact, over every sample; NaN without samples)."""

    p50: float
    """Median."""
    p90: float
    """90th percentile."""
    p99: float
    """99th percentile."""
    p99_9: float
    """99.9th percentile."""
    max: float
    """Largest sample."""
    mean: float
    """Arithmetic mean."""


class RunInfo(msgspec.Struct, frozen=True):
    """What was asked for."""

    run_id: str
    """Prefix of every event_id sent."""
    method: str
    """HTTP method."""
    url: str
    """Full target URL."""
    arrivals: str
    """`constant` or `poisson`."""
    rate: float
    """Intended requests per second."""
    duration_s: float
    """Measured window in seconds."""
    warmup_s: float
    """Warm-up before the window, excluded from the statistics."""
    batch_size: int
    """Events per request."""
    processes: int
    """Generator worker processes."""
    late_threshold_ms: float
    """A send this much later than intended counts as late."""
    sla_p99_ms: float | None
    """The p99 the run must stay under, if any."""


class Report(msgspec.Struct, frozen=True):
    """The result of one run (the `--json` document; `find-max` writes one per step)."""

    run: RunInfo
    """The run's parameters."""
    count: int
    """Requests scheduled in the measured window."""
    ok: int
    """Responses with a 2xx status."""
    errors: dict[str, int]
    """Failed requests by kind: `http_<status>`, `connect_error`, `timeout`, `disconnected`, `protocol_error`."""
    late_sends: int
    """Requests sent later than the threshold after their intended time, or never sent."""
    lateness_ms: Latency
    """Actual minus intended send time."""
    intended_rate: float
    """Requests per second asked for."""
    achieved_rate: float
    """Requests per second actually sent over the window."""
    response_rate: float
    """Responses per second received over the window."""
    latency_ms: Latency
    """Completion minus intended send time, over every response (any status)."""
    service_ms: Latency
    """Completion minus actual send time: what a closed-loop generator would have reported."""
    status: dict[str, int]
    """Responses by HTTP status."""
    stage: dict[str, float]
    """Share of decisions by `stage` (decide paths only)."""
    action: dict[str, float]
    """Share of decisions by `action` (decide paths only)."""
    degraded: float | None
    """Share of decisions with `degraded` true (None when no decision was parsed)."""
    unparsed: int
    """2xx bodies that were not decisions."""
    generator_cpu_pct: float
    """CPU the generator's workers used while sending, in % of one core (200 = two cores busy)."""
    sla_ok: bool | None
    """Whether p99 stayed within `sla_p99_ms` (None without an SLA)."""


def _latency(samples: FloatArray) -> Latency:
    ms = samples * 1000.0
    p50, p90, p99, p999 = percentiles(ms)
    if ms.size == 0:
        return Latency(p50, p90, p99, p999, math.nan, math.nan)
    return Latency(p50, p90, p99, p999, float(ms.max()), float(ms.mean()))


def _shares(counts: dict[str, int], total: int) -> dict[str, float]:
    return {k: round(v / total, 6) for k, v in sorted(counts.items())} if total else {}


def build_report(run: RunInfo, result: RunResult) -> Report:
    """Compute the statistics of the measured window."""
    window = result.offsets >= run.warmup_s
    offsets, sent, done = result.offsets[window], result.sent[window], result.done[window]
    status, error = result.status[window], result.error[window]
    answered = ~np.isnan(done)
    was_sent = ~np.isnan(sent)
    lateness = sent - offsets
    late = (~was_sent) | (lateness > run.late_threshold_ms / 1000.0)

    errors: dict[str, int] = {}
    for code, n in zip(*np.unique(status[answered], return_counts=True), strict=True):
        if not 200 <= code < 300:
            errors[f"http_{int(code)}"] = int(n)
    for kind, n in enumerate(np.bincount(error, minlength=len(ERROR_KINDS)).tolist()):
        if kind != OK and n:
            errors[ERROR_KINDS[kind]] = n
    statuses = {str(int(c)): int(n) for c, n in zip(*np.unique(status[answered], return_counts=True), strict=True)}

    latency = _latency(done[answered] - offsets[answered])
    sla_ok = None if run.sla_p99_ms is None else bool(latency.p99 <= run.sla_p99_ms)  # NaN (no response) fails
    send_span = max(run.duration_s, float(np.nanmax(sent)) - run.warmup_s) if was_sent.any() else math.inf
    done_span = max(run.duration_s, float(np.nanmax(done)) - run.warmup_s) if answered.any() else math.inf
    d = result.decisions
    return Report(
        run=run,
        count=int(window.sum()),
        ok=int(((status >= 200) & (status < 300)).sum()),
        errors=errors,
        late_sends=int(late.sum()),
        lateness_ms=_latency(lateness[was_sent]),
        intended_rate=run.rate,
        achieved_rate=round(int(was_sent.sum()) / send_span, 3),
        response_rate=round(int(answered.sum()) / done_span, 3),
        latency_ms=latency,
        service_ms=_latency(done[answered] - sent[answered]),
        status=statuses,
        stage=_shares(dict(d.stage), d.total),
        action=_shares(dict(d.action), d.total),
        degraded=round(d.degraded / d.total, 6) if d.total else None,
        unparsed=d.unparsed,
        generator_cpu_pct=round(100.0 * result.cpu_s / result.wall_s, 1) if result.wall_s > 0 else 0.0,
        sla_ok=sla_ok,
    )


def _fmt(lat: Latency) -> str:
    return "  ".join(
        f"{name} {value:.2f}"
        for name, value in (
            ("p50", lat.p50),
            ("p90", lat.p90),
            ("p99", lat.p99),
            ("p99.9", lat.p99_9),
            ("max", lat.max),
        )
    )


def _pct(shares: dict[str, float]) -> str:
    return "  ".join(f"{k} {100 * v:.1f}%" for k, v in shares.items()) or "-"


def format_report(report: Report) -> str:
    """A compact table for the terminal, ending with the SLA verdict when there is one."""
    r = report.run
    errors = "  ".join(f"{k} {v}" for k, v in sorted(report.errors.items())) or "none"
    rows = [
        (
            "run",
            f"{r.run_id}  {r.method} {r.url}  {r.arrivals} arrivals  {r.processes} process(es)  batch {r.batch_size}",
        ),
        ("window", f"{r.duration_s:g} s after {r.warmup_s:g} s warm-up"),
        (
            "rate /s",
            f"intended {report.intended_rate:.1f}  sent {report.achieved_rate:.1f}  "
            f"answered {report.response_rate:.1f}",
        ),
        ("requests", f"{report.count}  ok {report.ok}  late sends {report.late_sends} (> {r.late_threshold_ms:g} ms)"),
        ("errors", errors),
        ("latency ms", _fmt(report.latency_ms) + "   (from intended send time)"),
        ("service ms", _fmt(report.service_ms) + "   (from actual send: the closed-loop view)"),
        ("send lag ms", _fmt(report.lateness_ms)),
        ("status", "  ".join(f"{k} {v}" for k, v in report.status.items()) or "-"),
    ]
    if report.degraded is not None:
        rows += [
            ("stage", _pct(report.stage)),
            ("action", _pct(report.action)),
            (
                "degraded",
                f"{100 * report.degraded:.2f}%" + (f"  unparsed {report.unparsed}" if report.unparsed else ""),
            ),
        ]
    rows.append(("generator", f"{report.generator_cpu_pct:.0f}% of one core while sending"))
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    if r.sla_p99_ms is not None:
        verdict = "PASS" if report.sla_ok else "FAIL"
        lines.append(f"{verdict}: p99 {report.latency_ms.p99:.2f} ms vs SLA {r.sla_p99_ms:g} ms")
    return "\n".join(lines)


def to_json(report: Report | list[Report], extra: dict[str, object] | None = None) -> bytes:
    """The JSON document: one report, or `{"steps": [...], **extra}` for a find-max search."""
    if isinstance(report, Report):
        return msgspec.json.format(msgspec.json.encode(report), indent=2)
    return msgspec.json.format(msgspec.json.encode({"steps": report, **(extra or {})}), indent=2)
