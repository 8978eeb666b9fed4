"""Prometheus metrics, on a registry of the app's own (so that several apps in one test process do not clash)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
        self.log_queue = Gauge("fraudgate_log_queue", "Decisions waiting to be written", registry=r)
        self.log_written = Counter("fraudgate_log_written", "Decision records written to the stream", registry=r)
        self.redis_circuit = Gauge(
            "fraudgate_redis_circuit_open", "1 while the Redis circuit breaker is open, else 0", registry=r
        )
        self.log_replayed = Counter("fraudgate_log_replayed", "Spilled records replayed to the stream", registry=r)
        self.policy_info = Gauge(
            "fraudgate_policy_info", "The served policy version (value 1)", ["version"], registry=r
        )
        self.model_info = Gauge("fraudgate_model_info", "The served model version (value 1)", ["version"], registry=r)
        self.policy_refused = Counter(
            "fraudgate_policy_reload_refused", "Policy files refused by a reload (the running one stayed)", registry=r
        )
        self.shadow_policy = Counter(
            "fraudgate_shadow_policy_decisions",
            "What the candidate policy would have decided, and whether it agrees with the served one",
            ["action", "agrees"],
            registry=r,
        )
        self.log_spilled = Counter("fraudgate_log_spilled", "Decision records spilled to the local file", registry=r)

    def versions(self, policy: str, model: str | None) -> None:
        """Point the info metrics at the versions now served."""
        self.policy_info.clear()
        self.policy_info.labels(policy).set(1)
        self.model_info.clear()
        if model:
            self.model_info.labels(model).set(1)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
