"""The public HTTP schemas: the `card_payment` event in, the decision out.

Constraints live in the types, so msgspec's own error (``Expected `float`, got `str` - at `$.amount` ``) reaches the
client unwrapped. Unknown fields are refused on purpose (`forbid_unknown_fields`): a misspelt `ammount` silently
ignored would be scored on defaults, which is worse for a fraud engine than an honest 422 (see README).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Id = Annotated[str, Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@\-]+$")]
Mcc = Annotated[str, Meta(max_length=4, pattern=r"^[0-9]{4}$")]
Currency = Annotated[str, Meta(max_length=3, pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, Meta(max_length=2, pattern=r"^[A-Z]{2}$")]
Amount = Annotated[float, Meta(ge=0, le=1e10)]
Ip = Annotated[str, Meta(max_length=45, pattern=r"^[0-9A-Fa-f:.]+$")]
Channel = Literal["pos", "ecommerce", "moto", "atm"]
Pan = Annotated[str, Meta(max_length=19, pattern=r"^[0-9]{12,19}$")]
Action = Literal["approve", "review", "deny"]
MAX_BATCH_EVENTS = 10_000
"""Hard ceiling of events in one batch body, whatever the settings say."""
Stage = Literal["pre_policy", "model", "fallback"]


class Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Shared base of our schemas: immutable and strict."""


class CardPayment(Base, frozen=True, kw_only=True):
    """A card payment to decide on (the reference event of DESIGN.md)."""

    event_id: Id
    """Caller's unique id of the event; retries must reuse it (velocity counts it once)."""
    event_type: Literal["card_payment"]
    """Selects the policy; only `card_payment` exists in v1."""
    occurred_at: Annotated[datetime, Meta(tz=True)]
    """When the payment happened, RFC 3339 with a zone (`2026-11-22T10:00:00Z`)."""
    card_id: Id
    """Card token (never a card number)."""
    customer_id: Id | None = None
    """Customer, when the caller knows it; the card's profile is authoritative."""
    merchant_id: Id
    """Merchant or terminal id."""
    mcc: Mcc
    """Merchant category code, four digits as a string."""
    amount: Amount
    """Amount in the currency's major unit."""
    currency: Currency
    """ISO 4217 code."""
    country: Country
    """ISO 3166-1 alpha-2 country of the transaction."""
    channel: Channel
    """`pos`, `ecommerce`, `moto` or `atm`."""
    device_id: Id | None = None
    """Device fingerprint for card-not-present payments."""
    ip: Ip | None = None
    """Client IP for card-not-present payments."""
    pan: Pan | None = None
    """A raw card number, if the caller has nothing better: replaced at the edge by `pan_token`, `pan_first6` and
    `pan_last4`, and never stored or logged."""
    pan_token: Annotated[str, Meta(max_length=64)] | None = None
    """Keyed HMAC token of the card number (set by the engine from `pan`, or by a caller that tokenizes)."""
    pan_first6: Annotated[str, Meta(max_length=6, pattern=r"^[0-9]{6}$")] | None = None
    """BIN: the card number's first six digits."""
    pan_last4: Annotated[str, Meta(max_length=4, pattern=r"^[0-9]{4}$")] | None = None
    """The card number's last four digits."""


class Reason(Base, frozen=True):
    """One contribution to the model's score."""

    feature: str
    """Feature name."""
    contribution: float
    """Its SHAP contribution on the raw (log-odds) scale."""


class Decision(Base, frozen=True, kw_only=True):
    """The answer to one event (the decision contract of DESIGN.md)."""

    event_id: str
    """The event's id, echoed."""
    action: Action
    """`approve`, `review` or `deny`."""
    stage: Stage
    """Which stage decided: a pre-policy, the model with thresholds, or the fallback."""
    rule: str | None
    """The pre-policy (or threshold row) that decided, when one did."""
    score: float | None
    """Raw model probability; null when not scored."""
    calibrated: float | None
    """Calibrated probability of fraud; null when not scored."""
    ecdf: float | None
    """Share of reference traffic scoring at or below this event; null when not scored."""
    reasons: list[Reason]
    """Top contributions to the score (empty when not scored)."""
    missing_features: list[str]
    """Features that took their default because the value was absent, late or failed."""
    degraded: bool
    """True when a stage failed or ran out of time and the fallback decided or a feature was defaulted by failure."""
    degraded_reason: str | None
    """Machine-readable reason: `deadline_features`, `redis_error`, `model_error`, `deadline_model` ..."""
    shadow_hits: list[str]
    """Shadow pre-policies that matched (evaluated and logged, never acting)."""
    policy_version: str
    """Version (content digest) of the policy file that decided."""
    model_version: str | None
    """Version of the model bundle loaded (also when not scored)."""
    latency_ms: float
    """Time spent in the engine for this event."""


class BatchRequest(Base, frozen=True):
    """`POST /v1/decide/batch` body; each event is decoded on its own so one bad event does not fail the others."""

    events: Annotated[list[msgspec.Raw], Meta(min_length=1, max_length=MAX_BATCH_EVENTS)]
    """The events, in order (`FRAUDGATE_MAX_BATCH` may lower the ceiling)."""


class ItemError(Base, frozen=True):
    """The batch entry for an event that could not be decided."""

    error: str
    """What is wrong, naming the field."""
    status: int
    """The status the event would have had alone (422)."""
    index: int
    """Position in the batch."""
    event_id: str | None = None
    """The event's id when it could be read."""


class BatchResponse(Base, frozen=True):
    """n events in, n entries out, same order."""

    decisions: list[Decision | ItemError]
    """One entry per event: a decision or an error."""


class ErrorBody(Base, frozen=True):
    """Every error response: the status and what is wrong, naming the field; never a stack trace or a card number."""

    status_code: int
    """The HTTP status, repeated."""
    detail: str
    """What is wrong and where (`... - at `$.amount``)."""
