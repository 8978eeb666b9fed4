"""Statistics of a run, as a typed report for JSON and a table for the terminal.

Latency is response completion minus *intended* send time (what a user of the service would have waited); the
service time (completion minus actual send) is reported beside it, because the gap between the two is exactly what a
closed-loop generator hides. Statistics cover the measured window only: requests due at or after the warm-up.
"""

from __future__ import annotations

import math

import msgspec

from loadtest.hdr import Histogram
from loadtest.runner import RunResult
from loadtest.worker import PRE_POLICY


class Latency(msgspec.Struct, frozen=True, kw_only=True):
    """Latency percentiles in milliseconds from an HDR histogram (at most 0.79 % above the exact sample, never below;
    NaN without samples)."""

    p50: float
    """Median."""
    p90: float
    """90th percentile."""
    p99: float
    """99th percentile."""
    p999: float
    """99.9th percentile."""
    max: float
    """Largest sample (exact)."""
    mean: float
    """Arithmetic mean (exact up to µs rounding)."""

    @classmethod
    def of(cls, hist: Histogram) -> Latency:
        """The percentiles of `hist`."""
        p50, p90, p99, p999 = (round(hist.percentile_ms(q), 3) for q in (50.0, 90.0, 99.0, 99.9))
        return cls(p50=p50, p90=p90, p99=p99, p999=p999, max=round(hist.max_ms, 3), mean=round(hist.mean_ms, 3))


class Errors(msgspec.Struct, frozen=True):
    """Failed requests, two ways."""

    by_status: dict[str, int]
    """Non-2xx responses by HTTP status, e.g. `{"503": 4}`."""
    by_kind: dict[str, int]
    """Every failure by kind: `http_4xx`, `http_5xx`, `connect_error`, `timeout`, `disconnected`, `protocol_error`."""
    total: int
    """Failed requests (sum of `by_kind`)."""


class RunInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What was asked for."""

    run_id: str
    """Prefix of every event_id sent."""
    method: str
    """HTTP method."""
    url: str
    """Full target URL."""
    arrivals: str
    """`constant`, `poisson` or `replay` (send times from the event log's timestamps)."""
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
    expect_filter_ratio: tuple[float, float] | None = None
    """The range the pre-policy filter ratio must fall in, if any."""
    scenario: str | None = None
    """Name of the scenario file the run came from, if any."""


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """The result of one run (the `--json` document; `find-max` writes one per step)."""

    run: RunInfo
    """The run's parameters."""
    target_rate: float
    """Requests per second asked for."""
    achieved_rate: float
    """Requests per second actually sent over the window."""
    response_rate: float
    """Responses per second received over the window."""
    duration_s: float
    """Length of the measured window, s."""
    count: int
    """Requests scheduled in the measured window."""
    ok: int
    """Responses with a 2xx status."""
    latency_ms: Latency
    """Completion minus intended send time, over every response (any status): what a user waited."""
    service_ms: Latency
    """Completion minus actual send time: what a closed-loop generator would have reported."""
    send_lag_ms: Latency
    """Actual minus intended send time."""
    errors: Errors
    """Failed requests by HTTP status and by kind."""
    late_sends: int
    """Requests sent later than the threshold after their intended time, or never sent."""
    status: dict[str, int]
    """Responses by HTTP status."""
    actions: dict[str, int]
    """Decisions by `action` (decide paths only)."""
    stages: dict[str, int]
    """Decisions by `stage` (decide paths only); batch entries without a decision count as `error`."""
    filter_ratio: float | None
    """Share of decisions taken by pre-policies (`stage == "pre_policy"`); None without decisions."""
    per_rule: dict[str, int]
    """Decisions taken by each pre-policy (the decision's `rule` where `stage == "pre_policy"`)."""
    degraded: int
    """Decisions with `degraded` true."""
    decisions: int
    """Decisions parsed (batch error entries included)."""
    unparsed: int
    """2xx bodies that were not decisions."""
    generator_cpu_pct: float
    """CPU the generator's workers used while sending, in % of one core (200 = two cores busy)."""
    sla_met: bool | None
    """Whether p99 stayed within `sla_p99_ms` (None without an SLA)."""
    filter_ratio_met: bool | None
    """Whether `filter_ratio` fell in `expect_filter_ratio` (None without an expectation)."""
    passed: bool
    """The verdict: some 2xx responses, and neither the SLA nor the filter ratio failed."""
    latency_histogram: list[tuple[float, float, int]]
    """The HDR latency histogram: non-empty buckets as (lowest ms, highest ms, count); sum them to merge runs."""


def build_report(run: RunInfo, result: RunResult) -> Report:
    """The statistics of the measured window."""
    t, d = result.tally, result.decisions
    latency = Latency.of(result.latency)
    sla_met = None if run.sla_p99_ms is None else bool(latency.p99 <= run.sla_p99_ms)  # NaN (no response) fails
    send_span = max(run.duration_s, t.last_sent - run.warmup_s) if t.sent else math.inf
    done_span = max(run.duration_s, t.last_done - run.warmup_s) if t.answered else math.inf
    decided = d.total - d.stage.get("error", 0)
    filter_ratio = round(d.stage.get(PRE_POLICY, 0) / decided, 6) if decided else None
    filter_met: bool | None = None
    if run.expect_filter_ratio is not None:
        low, high = run.expect_filter_ratio
        filter_met = filter_ratio is not None and low <= filter_ratio <= high
    lo, hi, counts = result.latency.buckets()
    return Report(
        run=run,
        target_rate=run.rate,
        achieved_rate=round(t.sent / send_span, 3),
        response_rate=round(t.answered / done_span, 3),
        duration_s=run.duration_s,
        count=t.count,
        ok=t.ok,
        latency_ms=latency,
        service_ms=Latency.of(result.service),
        send_lag_ms=Latency.of(result.lateness),
        errors=Errors(dict(sorted(t.by_status.items())), dict(sorted(t.by_kind.items())), t.errors),
        late_sends=t.late_sends,
        status=dict(sorted(t.statuses.items())),
        actions=dict(sorted(d.action.items())),
        stages=dict(sorted(d.stage.items())),
        filter_ratio=filter_ratio,
        per_rule=dict(sorted(d.rule.items(), key=lambda kv: (-kv[1], kv[0]))),
        degraded=d.degraded,
        decisions=d.total,
        unparsed=d.unparsed,
        generator_cpu_pct=round(100.0 * result.cpu_s / result.wall_s, 1) if result.wall_s > 0 else 0.0,
        sla_met=sla_met,
        filter_ratio_met=filter_met,
        passed=t.ok > 0 and sla_met is not False and filter_met is not False,
        latency_histogram=[
            (round(a, 3), round(b, 3), int(c))
            for a, b, c in zip(lo.tolist(), hi.tolist(), counts.tolist(), strict=True)
        ],
    )


def _fmt(lat: Latency) -> str:
    return "  ".join(
        f"{name} {value:.2f}"
        for name, value in (
            ("p50", lat.p50),
            ("p90", lat.p90),
            ("p99", lat.p99),
            ("p99.9", lat.p999),
            ("max", lat.max),
        )
    )


def _pct(shares: dict[str, float]) -> str:
    return "  ".join(f"{k} {100 * v:.1f}%" for k, v in shares.items()) or "-"


def _counts(counts: dict[str, int], total: int) -> str:
    return "  ".join(f"{k} {v} ({100 * v / total:.1f}%)" for k, v in counts.items()) if total else "-"


def format_report(report: Report) -> str:
    """A compact table for the terminal, ending with the verdict lines."""
    r = report.run
    errors = "  ".join(f"{k} {v}" for k, v in report.errors.by_kind.items()) or "none"
    rows = [
        (
            "run",
            f"{r.run_id}  {r.method} {r.url}  {r.arrivals} arrivals  {r.processes} process(es)  batch {r.batch_size}"
            + (f"  scenario {r.scenario}" if r.scenario else ""),
        ),
        ("window", f"{r.duration_s:g} s after {r.warmup_s:g} s warm-up"),
        (
            "rate /s",
            f"target {report.target_rate:.1f}  sent {report.achieved_rate:.1f}  answered {report.response_rate:.1f}",
        ),
        ("requests", f"{report.count}  ok {report.ok}  late sends {report.late_sends} (> {r.late_threshold_ms:g} ms)"),
        ("errors", errors),
        ("latency ms", _fmt(report.latency_ms) + "   (from intended send time)"),
        ("service ms", _fmt(report.service_ms) + "   (from actual send: the closed-loop view)"),
        ("send lag ms", _fmt(report.send_lag_ms)),
        ("status", "  ".join(f"{k} {v}" for k, v in report.status.items()) or "-"),
    ]
    if report.decisions or report.unparsed:
        n = report.decisions
        ratio = "-" if report.filter_ratio is None else f"{100 * report.filter_ratio:.2f}%"
        rows += [
            ("stages", _counts(report.stages, n)),
            ("actions", _counts(report.actions, n)),
            ("filter ratio", ratio + "  (decided by pre-policies)"),
            ("per rule", "  ".join(f"{k} {v}" for k, v in report.per_rule.items()) or "-"),
            ("degraded", f"{report.degraded}" + (f"  unparsed {report.unparsed}" if report.unparsed else "")),
        ]
    rows.append(("generator", f"{report.generator_cpu_pct:.0f}% of one core while sending"))
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    if r.sla_p99_ms is not None:
        verdict = "PASS" if report.sla_met else "FAIL"
        lines.append(f"{verdict}: p99 {report.latency_ms.p99:.2f} ms vs SLA {r.sla_p99_ms:g} ms")
    if r.expect_filter_ratio is not None:
        verdict = "PASS" if report.filter_ratio_met else "FAIL"
        low, high = r.expect_filter_ratio
        ratio = "none" if report.filter_ratio is None else f"{report.filter_ratio:.4f}"
        lines.append(f"{verdict}: filter ratio {ratio} vs expected {low:g}:{high:g}")
    return "\n".join(lines)


def to_json(report: Report | list[Report], extra: dict[str, object] | None = None) -> bytes:
    """The JSON document: one report, or `{"steps": [...], **extra}` for a find-max search."""
    if isinstance(report, Report):
        return msgspec.json.format(msgspec.json.encode(report), indent=2)
    return msgspec.json.format(msgspec.json.encode({"steps": report, **(extra or {})}), indent=2)
