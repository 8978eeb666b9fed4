"""The knobs of the synthetic traffic generator."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from msgspec import Meta

Share = Annotated[float, Meta(ge=0, le=1)]
Weight = Annotated[float, Meta(ge=0)]


class Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Shared base of the generator's schemas: immutable, and unknown fields are refused when decoding."""


class FraudMix(Base, frozen=True, kw_only=True):
    """Relative weights of the three fraud typologies; normalised, so only their ratios matter."""

    card_testing: Weight = 0.4
    """Bursts of tiny card-not-present payments on one card, from devices shared across cards."""
    account_takeover: Weight = 0.3
    """A few large or foreign ecommerce payments from a brand-new device."""
    compromised_merchant: Weight = 0.3
    """Cloned cards used at a few skimmed merchants during a window of days."""


class SyntheticConfig(Base, frozen=True, kw_only=True):
    """Everything that shapes one synthetic data set; the same config always yields the same frames.

    Build it directly or decode it with ``msgspec.convert(mapping, SyntheticConfig)``, which also enforces the
    per-field bounds; direct construction checks the bounds that would otherwise fail obscurely.
    """

    n_events: Annotated[int, Meta(ge=1)] = 200_000
    """Number of ``card_payment`` events, fraud included."""
    seed: Annotated[int, Meta(ge=0)] = 7
    """Seed of every random draw (non-negative, as numpy's ``SeedSequence`` wants)."""
    start: datetime = datetime(2026, 10, 1, tzinfo=UTC)
    """Start of the period (timezone-aware); profiles are a snapshot as of this instant."""
    days: Annotated[int, Meta(ge=1, le=3660)] = 30
    """Length of the period in days; events fall in ``[start, start + days)``."""
    n_cards: Annotated[int, Meta(ge=10)] | None = None
    """Size of the card population (default: one card per 10 events, so about 10 events per card); activity per
    card is heavy-tailed, so some cards never appear."""
    cards_per_customer: Annotated[float, Meta(ge=1, le=2)] = 1.3
    """Average cards per customer; every customer holds one or two cards."""
    n_merchants: Annotated[int, Meta(ge=50)] | None = None
    """Size of the merchant population, domestic, foreign and a couple of sanctioned ones (default: one per 100
    events, at least 50)."""
    fraud_rate: Annotated[float, Meta(ge=0, le=0.5)] = 0.01
    """Share of events that are fraud."""
    fraud_mix: FraudMix = FraudMix()
    """How the fraud splits across typologies."""
    foreign_share: Share = 0.03
    """Share of legit events at merchants abroad (travel and cross-border shopping)."""
    sanctioned_share: Share = 0.002
    """Share of legit events at merchants in sanctioned countries (``KP``, ``IR``)."""
    new_card_share: Share = 0.01
    """Share of cards issued after ``start``: they have no card profile."""
    new_device_share: Share = 0.02
    """Share of legit card-not-present events from a device first seen after ``start`` (no device profile)."""
    utc_offset_hours: Annotated[int, Meta(ge=-12, le=14)] = -3
    """Cardholders' local offset from UTC, which places the daily cycle (Brazil: UTC-3)."""

    def __post_init__(self) -> None:
        """Refuse configs that construction would otherwise accept and generation would choke on."""
        if self.start.tzinfo is None:
            raise ValueError("SyntheticConfig.start must be timezone-aware, e.g. datetime(2026, 10, 1, tzinfo=UTC)")
        if self.seed < 0 or self.n_events < 1 or self.days < 1 or self.card_count < 10 or self.merchant_count < 50:
            raise ValueError(
                "SyntheticConfig needs seed >= 0, n_events >= 1, days >= 1, n_cards >= 10 and n_merchants >= 50"
            )
        if not 1 <= self.cards_per_customer <= 2:
            raise ValueError("SyntheticConfig.cards_per_customer must be in [1, 2]: customers hold one or two cards")
        if not 0 <= self.fraud_rate <= 0.5:
            raise ValueError("SyntheticConfig.fraud_rate must be in [0, 0.5]")
        if self.foreign_share < 0 or self.sanctioned_share < 0 or self.foreign_share + self.sanctioned_share > 0.5:
            raise ValueError("SyntheticConfig.foreign_share + sanctioned_share must be in [0, 0.5]")
        mix = self.fraud_mix
        weights = (mix.card_testing, mix.account_takeover, mix.compromised_merchant)
        if self.fraud_rate > 0 and (min(weights) < 0 or sum(weights) <= 0):
            raise ValueError("SyntheticConfig.fraud_mix needs non-negative weights with a positive sum")

    @property
    def card_count(self) -> int:
        """``n_cards``, or its default for ``n_events``."""
        return self.n_cards if self.n_cards is not None else max(10, self.n_events // 10)

    @property
    def merchant_count(self) -> int:
        """``n_merchants``, or its default for ``n_events``."""
        return self.n_merchants if self.n_merchants is not None else max(50, self.n_events // 100)
