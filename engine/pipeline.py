"""The per-request flow, top to bottom: event → pre-policy → features → model → decision → response and log.

`DecisionEngine` knows nothing of HTTP. It decides a list of events together (a single call is a list of one), so a
batch shares its Redis round trips; each event still gets its own pre-policy, score and decision.

Budget: the request's `Deadline` is split in two shares. Features may use everything but `MODEL_RESERVE` of it, so a
slow Redis can never eat the time the model and the decision need; the model runs only if the deadline has not
passed. Whatever fails, the policy's fallback table decides and the answer says `degraded` and why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from engine.breaker import CircuitBreaker
from engine.deadline import Deadline
from engine.metrics import MetricChildren, Metrics
from engine.policy import Action, Policy
from engine.schemas import CardPayment, Decision, Reason, Stage
from engine.sink import DecisionSink, LogRecord
from features.executor import FeatureExecutor, FeatureVector
from models import Bundle
from models.drift import DriftAccumulator

log = logging.getLogger(__name__)

REASONS = 3
"""How many top contributions a review or deny decision carries."""

MODEL_RESERVE = 0.2
"""Share of the budget kept back from feature fetching for the model and the decision."""

DRIFT_EVERY = 100
"""Scores between two updates of the drift gauge (PSI over everything scored since the model was loaded)."""

REDIS_FAULTS = frozenset({"redis_error", "feature_timeout"})
"""Feature failures that count against the circuit breaker (running out of budget does not)."""


class Loaded(msgspec.Struct, frozen=True):
    """What serving needs that a reload may swap: the compiled policy and the model bundle."""

    policy: Policy
    bundle: Bundle | None
    candidate: Policy | None = None
    """A candidate policy evaluated in shadow: logged and counted, never acting."""
    challenger: Bundle | None = None
    """A challenger model scoring in shadow beside the champion: logged, never acting."""


def event_row(event: CardPayment) -> dict[str, Any]:
    """The event as a flat row for rules and features (absent optional fields are None)."""
    # `pan` is always None here (tokenized at the edge); leaving the key out keeps it out of every log by construction
    row = msgspec.structs.asdict(event)
    row.pop("pan", None)
    return row


class _Verdict(msgspec.Struct):
    """A decision before it is stamped with versions and latency."""

    action: Action
    stage: Stage
    rule: str | None
    shadow: list[str]
    scores: tuple[float, float, float] | None = None
    reasons: list[Reason] = []
    missing: list[str] = []
    degraded: str | None = None


class DecisionEngine:
    """Decides events. Built once with its collaborators; `loaded` may be swapped atomically on reload."""

    def __init__(
        self,
        loaded: Loaded,
        executor: FeatureExecutor,
        sink: DecisionSink,
        metrics: Metrics,
        breaker: CircuitBreaker,
    ) -> None:
        self.loaded = loaded
        self.executor = executor
        self.sink = sink
        self.metrics = metrics
        self.breaker = breaker
        self._child = MetricChildren()
        self._drift_of: Bundle | None = None
        self._drift_acc: DriftAccumulator | None = None

    async def decide(self, events: Sequence[CardPayment], deadline: Deadline) -> list[Decision]:
        """One decision per event, in order, within `deadline`; then hands every event to the sink."""
        loaded = self.loaded  # one consistent policy + model for the whole call, even if a reload lands meanwhile
        policy, bundle = loaded.policy, loaded.bundle
        rows = [event_row(e) for e in events]

        pre = [self._pre_policy(row, policy) for row in rows]
        verdicts: list[_Verdict | None] = [v for v, _ in pre]
        survivors = [i for i, v in enumerate(verdicts) if v is None]
        deadline.mark("pre_policy")

        vectors: dict[int, FeatureVector] = {}
        if survivors:
            fetched = await self._features([rows[i] for i in survivors], deadline)
            vectors = dict(zip(survivors, fetched, strict=True))
            deadline.mark("features")
            for i in survivors:
                verdicts[i] = self._score(rows[i], vectors[i], policy, bundle, deadline, pre[i][1])
            deadline.mark("model")

        model_version = bundle.manifest.version if bundle else None
        latency_ms = round((time.monotonic() - deadline.start) * 1000, 3)
        timings = deadline.timings_ms()
        decided_at = datetime.now(UTC)
        out: list[Decision] = []
        for i, v in enumerate(verdicts):
            assert v is not None  # every index was decided by a pre-policy or by _score
            d = _stamp(rows[i], v, policy.version, model_version, latency_ms)
            out.append(d)
            self._count(d)
            vec = vectors.get(i)
            shadow_policy = self._candidate(loaded.candidate, rows[i], d) if loaded.candidate else None
            challenger = (
                self._challenger(loaded.challenger, policy, rows[i], vec)
                if loaded.challenger is not None and vec is not None and d.stage == "model"
                else None
            )
            if d.score is not None:
                self._drift(bundle, d.score)
            record = LogRecord(
                event=rows[i],
                features=_model_inputs(vec, bundle) if vec else None,
                decision=msgspec.structs.asdict(d),
                timings_ms=timings,
                decided_at=decided_at,
                shadow_policy=shadow_policy,
                challenger=challenger,
            )
            self.sink.put(rows[i], record)
        return out

    def _pre_policy(self, row: dict[str, Any], policy: Policy) -> tuple[_Verdict | None, list[str]]:
        """The pre-policy verdict (None: on to the model) and the shadow rules that matched."""
        rule, shadow = policy.pre_policy(row)
        for name in shadow:
            self._child(self.metrics.rule_hits, name, "shadow").inc()
        if rule is None:
            return None, shadow
        self._child(self.metrics.rule_hits, rule.name, "live").inc()
        return _Verdict(action=rule.action, stage="pre_policy", rule=rule.name, shadow=shadow), shadow

    async def _features(self, rows: list[dict[str, Any]], deadline: Deadline) -> list[FeatureVector]:
        if self.breaker.is_open:
            # don't wait on a Redis that keeps failing: defaults at once (a deadline in the past fetches nothing)
            vectors = await self.executor.fetch(rows, 0.0)
            for v in vectors:
                v.failure = "redis_circuit_open"
            return vectors
        feature_deadline = deadline.at - MODEL_RESERVE * deadline.budget_ms / 1000
        vectors = await self.executor.fetch(rows, feature_deadline)
        failure = vectors[0].failure if vectors else None
        if failure in REDIS_FAULTS:
            self.breaker.failure()
        elif failure is None:
            self.breaker.success()
        return vectors

    def _score(
        self,
        row: dict[str, Any],
        vec: FeatureVector,
        policy: Policy,
        bundle: Bundle | None,
        deadline: Deadline,
        shadow: list[str],
    ) -> _Verdict:
        if bundle is None:
            return self._fallback(row, policy, shadow, vec, "model_unavailable")
        if deadline.expired():
            return self._fallback(row, policy, shadow, vec, vec.failure or "deadline_model")
        try:
            s = bundle.scorer.score_row(vec.values)
            action, name = policy.threshold({**row, "score": s.score, "calibrated": s.calibrated, "ecdf": s.ecdf})
            # SHAP contributions cost ~0.3 ms a row against ~3 us for the score: only the decisions someone
            # will look at (review, deny) carry them; approvals answer with no reasons (README, "Departures")
            top = bundle.scorer.reasons(vec.values, REASONS) if action != "approve" else ()
        except Exception:
            # a model that cannot score must not turn into a 500: the documented fallback decides
            log.exception("model failed to score event %s", row.get("event_id"))
            return self._fallback(row, policy, shadow, vec, "model_error")
        return _Verdict(
            action=action,
            stage="model",
            rule=name,
            shadow=shadow,
            scores=(s.score, s.calibrated, s.ecdf),
            reasons=[Reason(r.feature, r.contribution) for r in top],
            missing=vec.missing,
            degraded=vec.failure,
        )

    @staticmethod
    def _fallback(row: dict[str, Any], policy: Policy, shadow: list[str], vec: FeatureVector, reason: str) -> _Verdict:
        action, name = policy.fallback(row)
        return _Verdict(action=action, stage="fallback", rule=name, shadow=shadow, missing=vec.missing, degraded=reason)

    def _candidate(self, candidate: Policy, row: dict[str, Any], d: Decision) -> dict[str, Any]:
        """What the shadow candidate policy would have decided (on the same scores), counted and logged."""
        scores = None
        if d.score is not None:
            scores = {"score": d.score, "calibrated": d.calibrated, "ecdf": d.ecdf}
        would = candidate.would_decide(row, scores)
        agrees = would.action == d.action if would.action is not None else None
        self.metrics.shadow_policy.labels(str(would.action), str(agrees).lower()).inc()
        return {"version": candidate.version, **msgspec.structs.asdict(would), "agrees": agrees}

    def _challenger(
        self, challenger: Bundle, policy: Policy, row: dict[str, Any], vec: FeatureVector
    ) -> dict[str, Any] | None:
        """The challenger's scores and the action the same thresholds would give them (never acting)."""
        try:
            s = challenger.scorer.score_row(vec.values)
        except Exception:
            log.exception("challenger %s failed to score", challenger.manifest.version)
            return None
        action, rule = policy.threshold({**row, "score": s.score, "calibrated": s.calibrated, "ecdf": s.ecdf})
        self.metrics.challenger.labels(action).inc()
        return {"version": challenger.manifest.version, "score": s.score, "calibrated": s.calibrated,
                "ecdf": s.ecdf, "action": action, "rule": rule}  # fmt: skip

    def _drift(self, bundle: Bundle | None, score: float) -> None:
        """Feed the live score into the PSI against the training ECDF; the gauge moves every `DRIFT_EVERY` scores."""
        if bundle is None:
            return
        if self._drift_of is not bundle:
            self._drift_of = bundle
            self._drift_acc = DriftAccumulator(bundle.scorer.spec.ecdf.quantiles)
        acc = self._drift_acc
        assert acc is not None  # set together with _drift_of
        acc.update(score)
        if acc.count % DRIFT_EVERY == 0:
            self.metrics.score_psi.set(acc.psi())

    def _count(self, d: Decision) -> None:
        self._child(self.metrics.decisions, d.action, d.stage).inc()
        self._child(self.metrics.latency, d.stage).observe(d.latency_ms / 1000)
        if d.degraded_reason:
            self._child(self.metrics.degraded, d.degraded_reason).inc()
        for feature in d.missing_features:
            self._child(self.metrics.feature_missing, feature).inc()


def _stamp(
    row: dict[str, Any], v: _Verdict, policy_version: str, model_version: str | None, latency_ms: float
) -> Decision:
    return Decision(
        event_id=row["event_id"],
        action=v.action,
        stage=v.stage,
        rule=v.rule,
        score=v.scores[0] if v.scores else None,
        calibrated=v.scores[1] if v.scores else None,
        ecdf=v.scores[2] if v.scores else None,
        reasons=v.reasons,
        missing_features=v.missing,
        degraded=v.degraded is not None,
        degraded_reason=v.degraded,
        shadow_hits=v.shadow,
        policy_version=policy_version,
        model_version=model_version,
        latency_ms=latency_ms,
    )


def _model_inputs(vec: FeatureVector, bundle: Bundle | None) -> dict[str, Any]:
    names = bundle.scorer.feature_names if bundle else tuple(vec.values)
    return {n: vec.values.get(n) for n in names}
