"""Prometheus metrics, on a registry of the app's own (so that several apps in one test process do not clash).

With several worker processes (`FRAUDGATE_WORKERS` > 1) every worker writes its values to prometheus_client's
multiprocess folder and `/metrics`, whichever worker serves it, adds them up (`use_multiprocess`). Gauges say how
their values combine across workers (`multiprocess_mode`); in one process that argument changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

_multiprocess_dir: Path | None = None


def use_multiprocess(path: Path | None) -> None:
    """Render `/metrics` from every worker's files in `path` (prometheus_client must have been imported with
    `PROMETHEUS_MULTIPROC_DIR` set to the same folder: `engine.serve` sees to it)."""
    global _multiprocess_dir
    _multiprocess_dir = path


def mark_process_dead(pid: int) -> None:
    """Drop a finished worker's live gauges from the multiprocess folder (no-op in one process)."""
    if _multiprocess_dir is not None:
        multiprocess.mark_process_dead(pid, str(_multiprocess_dir))  # type: ignore[no-untyped-call]


_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    """The engine's metrics. Labels never carry event data: only actions, stages, rule names and reasons."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.decisions = Counter("fraudgate_decisions", "Decisions made", ["action", "stage"], registry=r)
        self.degraded = Counter("fraudgate_degraded", "Degraded decisions by reason", ["reason"], registry=r)
        self.rule_hits = Counter("fraudgate_rule_hits", "Pre-policy matches", ["rule", "mode"], registry=r)
        self.latency = Histogram(
            "fraudgate_decision_seconds",
            "Time in the engine per event",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter("fraudgate_bad_requests", "Requests refused as malformed", ["reason"], registry=r)
        self.log_queue = Gauge(
            "fraudgate_log_queue", "Decisions waiting to be written", registry=r, multiprocess_mode="livesum"
        )
        self.log_written = Counter("fraudgate_log_written", "Decision records written to the stream", registry=r)
        self.redis_circuit = Gauge(
            "fraudgate_redis_circuit_open",
            "1 while the Redis circuit breaker is open, else 0",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.log_replayed = Counter("fraudgate_log_replayed", "Spilled records replayed to the stream", registry=r)
        self.policy_info = Gauge(
            "fraudgate_policy_info",
            "The served policy version (value 1)",
            ["version"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.model_info = Gauge(
            "fraudgate_model_info",
            "The served model version (value 1)",
            ["version"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.policy_refused = Counter(
            "fraudgate_policy_reload_refused", "Policy files refused by a reload (the running one stayed)", registry=r
        )
        self.shadow_policy = Counter(
            "fraudgate_shadow_policy_decisions",
            "What the candidate policy would have decided, and whether it agrees with the served one",
            ["action", "agrees"],
            registry=r,
        )
        self.challenger = Counter(
            "fraudgate_challenger_decisions", "Actions the challenger model would have taken", ["action"], registry=r
        )
        self.score_psi = Gauge(
            "fraudgate_score_psi",
            "Population stability index of live scores against the training ECDF",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.log_spilled = Counter("fraudgate_log_spilled", "Decision records spilled to the local file", registry=r)
        # the edge (engine.app, engine.routes): bounded labels only - route templates, methods, status codes,
        # configured key names, feature names from the specs
        self.http_requests = Counter(
            "fraudgate_http_requests", "HTTP requests answered", ["route", "method", "status"], registry=r
        )
        self.http_latency = Histogram(
            "fraudgate_http_request_duration_seconds",
            "Time from request to response, per route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.feature_missing = Counter(
            "fraudgate_feature_missing",
            "Features that took their default (absent, late or failed)",
            ["feature"],
            registry=r,
        )
        self.rate_limited = Counter(
            "fraudgate_rate_limited", "Requests refused with 429, per API key name", ["key"], registry=r
        )

    def versions(self, policy: str, model: str | None) -> None:
        """Point the info metrics at the versions now served."""
        # zero before clearing: in multiprocess mode a cleared child's last value would stay in the worker's file
        for gauge in (self.policy_info, self.model_info):
            for labels in list(gauge._metrics):
                gauge.labels(*labels).set(0)
        self.policy_info.clear()
        self.policy_info.labels(policy).set(1)
        self.model_info.clear()
        if model:
            self.model_info.labels(model).set(1)

    def render(self) -> bytes:
        """The text exposition format."""
        if _multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, str(_multiprocess_dir))  # type: ignore[no-untyped-call]
        return generate_latest(registry)


class MetricChildren:
    """prometheus_client children by label values, looked up once: `labels()` takes a lock and builds a key on every
    call, which the hot path would pay several times per decision. Only for metrics whose children are never
    removed (counters and histograms of decisions; not the version gauges, which `Metrics.versions` clears)."""

    def __init__(self) -> None:
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def __call__(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, cached."""
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child
