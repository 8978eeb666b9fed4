"""The per-request flow, top to bottom: event → pre-policy → features → model → decision → response and log.

`DecisionEngine` knows nothing of HTTP. It decides a list of events together (a single call is a list of one), so a
batch shares its Redis round trips; each event still gets its own pre-policy, score and decision.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import msgspec

from engine.deadline import Deadline
from engine.metrics import Metrics
from engine.policy import Action, Policy
from engine.schemas import CardPayment, Decision, Reason
from engine.sink import DecisionSink, LogRecord
from features.executor import FeatureExecutor, FeatureVector
from models import Bundle

log = logging.getLogger(__name__)

REASONS = 3
"""How many top contributions a scored decision carries."""


class Loaded(msgspec.Struct, frozen=True):
    """What serving needs that a reload may swap: the compiled policy and the model bundle."""

    policy: Policy
    bundle: Bundle | None


def event_row(event: CardPayment) -> dict[str, Any]:
    """The event as a flat row for rules and features (absent optional fields are None)."""
    return {f: getattr(event, f) for f in event.__struct_fields__}


class DecisionEngine:
    """Decides events. Built once with its collaborators; `loaded` may be swapped atomically on reload."""

    def __init__(self, loaded: Loaded, executor: FeatureExecutor, sink: DecisionSink, metrics: Metrics) -> None:
        self.loaded = loaded
        self.executor = executor
        self.sink = sink
        self.metrics = metrics

    async def decide(self, events: Sequence[CardPayment], deadline: Deadline) -> list[Decision]:
        """One decision per event, in order, within `deadline`; then hands every event to the sink."""
        loaded = self.loaded  # one consistent policy + model for the whole call, even if a reload lands meanwhile
        policy, bundle = loaded.policy, loaded.bundle
        model_version = bundle.manifest.version if bundle else None
        rows = [event_row(e) for e in events]

        decisions: list[Decision | None] = [None] * len(rows)
        shadows: list[list[str]] = []
        survivors: list[int] = []
        for i, row in enumerate(rows):
            rule, shadow = policy.pre_policy(row)
            shadows.append(shadow)
            for name in shadow:
                self.metrics.rule_hits.labels(name, "shadow").inc()
            if rule is not None:
                self.metrics.rule_hits.labels(rule.name, "live").inc()
                decisions[i] = self._decision(
                    row,
                    policy,
                    model_version,
                    deadline,
                    action=rule.action,
                    stage="pre_policy",
                    rule=rule.name,
                    shadow=shadow,
                )
            else:
                survivors.append(i)
        deadline.mark("pre_policy")

        vectors: dict[int, FeatureVector] = {}
        if survivors:
            fetched = await self.executor.fetch([rows[i] for i in survivors], deadline.at)
            vectors = dict(zip(survivors, fetched, strict=True))
            deadline.mark("features")
            for i in survivors:
                decisions[i] = self._score(rows[i], vectors[i], policy, bundle, deadline, shadows[i])
            deadline.mark("model")

        out: list[Decision] = []
        timings = deadline.timings_ms()
        for i, d in enumerate(decisions):
            assert d is not None  # every index was decided by a pre-policy or by _score
            out.append(d)
            self.metrics.decisions.labels(d.action, d.stage).inc()
            self.metrics.latency.labels(d.stage).observe(d.latency_ms / 1000)
            if d.degraded_reason:
                self.metrics.degraded.labels(d.degraded_reason).inc()
            vec = vectors.get(i)
            self.sink.put(
                rows[i],
                LogRecord(
                    event=rows[i],
                    features=_model_inputs(vec, bundle) if vec else None,
                    decision=msgspec.structs.asdict(d),
                    timings_ms=timings,
                ),
            )
        return out

    def _score(
        self,
        row: dict[str, Any],
        vec: FeatureVector,
        policy: Policy,
        bundle: Bundle | None,
        deadline: Deadline,
        shadow: list[str],
    ) -> Decision:
        model_version = bundle.manifest.version if bundle else None
        common: dict[str, Any] = {"shadow": shadow, "missing": vec.missing}
        if bundle is None:
            return self._decision(
                row,
                policy,
                model_version,
                deadline,
                action=policy.fallback,
                stage="fallback",
                degraded="model_unavailable",
                **common,
            )
        if deadline.expired():
            return self._decision(
                row,
                policy,
                model_version,
                deadline,
                action=policy.fallback,
                stage="fallback",
                degraded=vec.failure or "deadline_model",
                **common,
            )
        try:
            s = bundle.scorer.score(vec.values, reasons=0)
            action, name = policy.threshold({**row, "score": s.score, "calibrated": s.calibrated, "ecdf": s.ecdf})
            if action != "approve":
                # SHAP contributions cost ~1.8 ms a row against ~65 us for the score: only the decisions someone
                # will look at (review, deny) carry them; approvals answer with no reasons (README, "Departures")
                s = bundle.scorer.score(vec.values, reasons=REASONS)
        except Exception:
            # a model that cannot score must not turn into a 500: the documented fallback decides
            log.exception("model failed to score event %s", row.get("event_id"))
            return self._decision(
                row,
                policy,
                model_version,
                deadline,
                action=policy.fallback,
                stage="fallback",
                degraded="model_error",
                **common,
            )
        return self._decision(
            row,
            policy,
            model_version,
            deadline,
            action=action,
            stage="model",
            rule=name,
            scores=(s.score, s.calibrated, s.ecdf),
            reasons=[Reason(r.feature, r.contribution) for r in s.reasons],
            degraded=vec.failure,
            **common,
        )

    @staticmethod
    def _decision(
        row: dict[str, Any],
        policy: Policy,
        model_version: str | None,
        deadline: Deadline,
        *,
        action: Action,
        stage: Any,
        rule: str | None = None,
        scores: tuple[float, float, float] | None = None,
        reasons: list[Reason] | None = None,
        missing: list[str] | None = None,
        degraded: str | None = None,
        shadow: list[str],
    ) -> Decision:
        return Decision(
            event_id=row["event_id"],
            action=action,
            stage=stage,
            rule=rule,
            score=scores[0] if scores else None,
            calibrated=scores[1] if scores else None,
            ecdf=scores[2] if scores else None,
            reasons=reasons or [],
            missing_features=missing or [],
            degraded=degraded is not None,
            degraded_reason=degraded,
            shadow_hits=shadow,
            policy_version=policy.version,
            model_version=model_version,
            latency_ms=round((time.monotonic() - deadline.start) * 1000, 3),
        )


def _model_inputs(vec: FeatureVector, bundle: Bundle | None) -> dict[str, Any]:
    names = bundle.scorer.feature_names if bundle else tuple(vec.values)
    return {n: vec.values.get(n) for n in names}
