"""Declarative feature specs: what to fetch, keyed by what, with which default and timeout.

A spec says nothing about how it is fetched; `features.plan` orders specs into dependency levels and
`features.executor` fetches one level per Redis round trip. The offline twin (`features.offline`) reads the same
specs, so serving and training compute the same thing by construction.
"""

from __future__ import annotations

from typing import Literal

import msgspec

ValueType = Literal["str", "int", "float", "bool"]


class Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Shared base: immutable, strict."""


class ProfileField(Base, frozen=True):
    """One column of a profile hash, exposed as a feature."""

    feature: str
    """Feature name (unique across the spec set), e.g. `card_age_days`."""
    column: str
    """Field in the profile hash / column in the profile table, e.g. `card_age_days`."""
    type: ValueType
    """How the stored string is parsed."""
    default: str | int | float | bool | None = None
    """Value when the profile, the field or the fetch is missing; None leaves it to the model's imputation."""


class ProfileSpec(Base, frozen=True):
    """A profile hash per entity, loaded in bulk (`fraudgate features load`)."""

    entity: str
    """Entity kind, part of the Redis key (`card`, `customer`, ...)."""
    key: tuple[str, ...]
    """Where the entity id comes from: event fields or earlier features, first non-missing wins."""
    id_column: str
    """Column of the profile table holding the entity id."""
    fields: tuple[ProfileField, ...]
    """Fields exposed as features."""
    timeout_ms: float = 20.0
    """Most this lookup may take inside the request's budget."""


class VelocityWindow(Base, frozen=True):
    """A count and amount sum over a trailing window, per entity."""

    count_feature: str
    """Feature name of the event count, e.g. `card_cnt_10m`."""
    sum_feature: str | None
    """Feature name of the amount sum, or None when only the count is wanted."""
    buckets: int
    """Window length in buckets of the entity's granularity (the current bucket included)."""
    granularity_s: int
    """Bucket size in seconds: 60 (minutes), 3600 (hours) or 86400 (days)."""


class DistinctWindow(Base, frozen=True):
    """The number of distinct values of an event field seen for an entity over a trailing window (exact)."""

    feature: str
    """Feature name, e.g. `card_distinct_merchants_24h`."""
    field: str
    """Event field whose distinct values are counted, e.g. `merchant_id`; events without it are not counted."""
    buckets: int
    """Window length in buckets of `granularity_s` (the current bucket included)."""
    granularity_s: int
    """Bucket size in seconds: 60, 3600 or 86400."""


class DelayedRisk(Base, frozen=True):
    """Share of an entity's transactions later confirmed as fraud, over days that labels have had time to reach.

    For an event on day `b` it reads the days `b - delay_days - days + 1 ... b - delay_days`: frauds are the labels
    loaded (`fraudgate labels load`) by the time of the read, transactions are the entity's velocity counts.
    """

    feature: str
    """Feature name, e.g. `merchant_fraud_share_7d`."""
    delay_days: int
    """Days between a transaction and the first read that may use its label (the label delay), >= 1."""
    days: int
    """Number of transaction days in the window, >= 1."""


class VelocitySpec(Base, frozen=True):
    """Real-time aggregates for one entity kind, updated by every event after its response."""

    entity: str
    """Entity kind, part of the Redis key (`card`, `device`, `ip`)."""
    key: str
    """Event field holding the entity id; events without it neither read nor update."""
    windows: tuple[VelocityWindow, ...]
    """Windows served as features."""
    distinct: tuple[DistinctWindow, ...] = ()
    """Distinct-count windows served as features."""
    delayed: tuple[DelayedRisk, ...] = ()
    """Delayed fraud-share features fed by labels (they keep `delay_days + days` day buckets of counts)."""
    timeout_ms: float = 20.0
    """Most this lookup may take inside the request's budget."""


class DerivedSpec(Base, frozen=True):
    """A feature computed from the event and fetched features with a `rules` expression (no Redis)."""

    feature: str
    """Feature name."""
    expr: str
    """Expression in the rule language, e.g. `amount / customer_avg_amount_90d`."""


class FeatureSet(Base, frozen=True):
    """Everything one event type needs: versioned with the model that was trained on it."""

    name: str
    """Name of the set, e.g. `card_payment`."""
    version: str
    """Bumped whenever a spec changes meaning."""
    event_fields: dict[str, ValueType | Literal["datetime"]]
    """Event fields visible to expressions and the model, with their types."""
    profiles: tuple[ProfileSpec, ...]
    """Profile lookups."""
    velocity: tuple[VelocitySpec, ...]
    """Velocity aggregates."""
    derived: tuple[DerivedSpec, ...]
    """Derived features, evaluated in order after every fetch."""

    def fetched_names(self) -> list[str]:
        """Names of the features that come from Redis, in spec order."""
        names = [f.feature for p in self.profiles for f in p.fields]
        for v in self.velocity:
            for w in v.windows:
                names.append(w.count_feature)
                if w.sum_feature:
                    names.append(w.sum_feature)
            names += [d.feature for d in v.distinct]
            names += [d.feature for d in v.delayed]
        return names


def with_timeouts(fs: FeatureSet, timeout_ms: float) -> FeatureSet:
    """`fs` with every lookup's timeout set to `timeout_ms` (an operator's override; tests on noisy machines)."""
    return msgspec.structs.replace(
        fs,
        profiles=tuple(msgspec.structs.replace(p, timeout_ms=timeout_ms) for p in fs.profiles),
        velocity=tuple(msgspec.structs.replace(v, timeout_ms=timeout_ms) for v in fs.velocity),
    )
