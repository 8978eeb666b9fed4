"""The `card_payment` feature set: the profiles, velocity windows and derived features the demo model uses."""

from __future__ import annotations

from features.specs import (
    DelayedRisk,
    DerivedSpec,
    DistinctWindow,
    FeatureSet,
    ProfileField,
    ProfileSpec,
    VelocitySpec,
    VelocityWindow,
)

MINUTE, HOUR, DAY = 60, 3600, 86400


def _vel(
    entity: str,
    key: str,
    windows: list[tuple[str, int, int, bool]],
    distinct: tuple[DistinctWindow, ...] = (),
    delayed: tuple[DelayedRisk, ...] = (),
) -> VelocitySpec:
    return VelocitySpec(
        distinct=distinct,
        delayed=delayed,
        entity=entity,
        key=key,
        windows=tuple(
            VelocityWindow(
                count_feature=f"{entity}_cnt_{label}",
                sum_feature=f"{entity}_sum_{label}" if with_sum else None,
                buckets=n,
                granularity_s=g,
            )
            for label, n, g, with_sum in windows
        ),
    )


CARD_PAYMENT = FeatureSet(
    name="card_payment",
    version="1",
    event_fields={
        "event_id": "str",
        "event_type": "str",
        "occurred_at": "datetime",
        "card_id": "str",
        "customer_id": "str",
        "merchant_id": "str",
        "mcc": "str",
        "amount": "float",
        "currency": "str",
        "country": "str",
        "channel": "str",
        "device_id": "str",
        "ip": "str",
    },
    profiles=(
        ProfileSpec(
            entity="card",
            key=("card_id",),
            id_column="card_id",
            fields=(
                ProfileField(feature="card_customer_id", column="customer_id", type="str"),
                ProfileField(feature="card_issuer_country", column="issuer_country", type="str"),
                ProfileField(feature="card_age_days", column="card_age_days", type="int"),
            ),
        ),
        ProfileSpec(
            entity="merchant",
            key=("merchant_id",),
            id_column="merchant_id",
            fields=(
                ProfileField(feature="merchant_age_days", column="merchant_age_days", type="int"),
                ProfileField(feature="merchant_chargeback_rate_90d", column="chargeback_rate_90d", type="float"),
            ),
        ),
        ProfileSpec(
            entity="device",
            key=("device_id",),
            id_column="device_id",
            fields=(
                ProfileField(feature="device_age_days", column="device_age_days", type="int"),
                ProfileField(feature="device_n_cards_30d", column="n_cards_30d", type="int"),
            ),
        ),
        # Level 2: the card's profile names its owner; the event's own customer_id is only the fallback.
        ProfileSpec(
            entity="customer",
            key=("card_customer_id", "customer_id"),
            id_column="customer_id",
            fields=(
                ProfileField(feature="customer_home_country", column="home_country", type="str"),
                ProfileField(feature="customer_account_age_days", column="account_age_days", type="int"),
                ProfileField(feature="customer_avg_amount_90d", column="avg_amount_90d", type="float"),
                ProfileField(feature="customer_txn_count_90d", column="txn_count_90d", type="int"),
            ),
        ),
    ),
    velocity=(
        _vel(
            "card",
            "card_id",
            [("10m", 10, MINUTE, True), ("1h", 60, MINUTE, False), ("24h", 24, HOUR, True)],
            distinct=(
                DistinctWindow(
                    feature="card_distinct_merchants_24h", field="merchant_id", buckets=24, granularity_s=HOUR
                ),
            ),
        ),
        # 30 days on day buckets: a read is 30 fields, not 43,200 minutes
        _vel(
            "customer",
            "customer_id",
            [("24h", 24, HOUR, True), ("7d", 7, DAY, False), ("30d", 30, DAY, True)],
        ),
        _vel(
            "merchant",
            "merchant_id",
            [("1h", 60, MINUTE, False), ("24h", 24, HOUR, True)],
            distinct=(
                DistinctWindow(feature="merchant_distinct_cards_1h", field="card_id", buckets=60, granularity_s=MINUTE),
            ),
            # chargebacks take days: the share of confirmed fraud among the merchant's sales 8 to 14 days ago
            delayed=(DelayedRisk(feature="merchant_fraud_share_7d", delay_days=7, days=7),),
        ),
        _vel(
            "device",
            "device_id",
            [("1h", 60, MINUTE, False), ("24h", 24, HOUR, False)],
            distinct=(
                DistinctWindow(feature="device_distinct_cards_24h", field="card_id", buckets=24, granularity_s=HOUR),
            ),
        ),
        _vel(
            "ip",
            "ip",
            [("1h", 60, MINUTE, False), ("24h", 24, HOUR, False)],
            distinct=(
                DistinctWindow(feature="ip_distinct_cards_1h", field="card_id", buckets=60, granularity_s=MINUTE),
            ),
        ),
    ),
    derived=(
        DerivedSpec(feature="hour", expr="hour_of(occurred_at)"),
        DerivedSpec(feature="amount_to_avg", expr="amount / customer_avg_amount_90d"),
        DerivedSpec(feature="foreign", expr="country != coalesce(customer_home_country, card_issuer_country)"),
        DerivedSpec(feature="new_device", expr="not is_missing(device_id) and is_missing(device_age_days)"),
        DerivedSpec(feature="unknown_card", expr="is_missing(card_age_days)"),
    ),
)
"""The feature set served for `card_payment` events and used to train the demo model."""

MODEL_FEATURES: tuple[tuple[str, str], ...] = (
    ("amount", "numeric"),
    ("mcc", "categorical"),
    ("channel", "categorical"),
    ("country", "categorical"),
    ("currency", "categorical"),
    ("hour", "numeric"),
    ("card_age_days", "numeric"),
    ("unknown_card", "numeric"),
    ("customer_account_age_days", "numeric"),
    ("customer_avg_amount_90d", "numeric"),
    ("customer_txn_count_90d", "numeric"),
    ("amount_to_avg", "numeric"),
    ("foreign", "numeric"),
    ("merchant_age_days", "numeric"),
    ("merchant_chargeback_rate_90d", "numeric"),
    ("device_age_days", "numeric"),
    ("device_n_cards_30d", "numeric"),
    ("new_device", "numeric"),
    ("card_cnt_10m", "numeric"),
    ("card_sum_10m", "numeric"),
    ("card_cnt_1h", "numeric"),
    ("card_cnt_24h", "numeric"),
    ("card_sum_24h", "numeric"),
    ("device_cnt_1h", "numeric"),
    ("device_cnt_24h", "numeric"),
    ("ip_cnt_1h", "numeric"),
    ("ip_cnt_24h", "numeric"),
    ("card_distinct_merchants_24h", "numeric"),
    ("customer_cnt_24h", "numeric"),
    ("customer_sum_24h", "numeric"),
    ("customer_cnt_7d", "numeric"),
    ("customer_cnt_30d", "numeric"),
    ("customer_sum_30d", "numeric"),
    ("merchant_cnt_1h", "numeric"),
    ("merchant_cnt_24h", "numeric"),
    ("merchant_sum_24h", "numeric"),
    ("merchant_distinct_cards_1h", "numeric"),
    ("merchant_fraud_share_7d", "numeric"),
    ("device_distinct_cards_24h", "numeric"),
    ("ip_distinct_cards_1h", "numeric"),
)
"""The model's inputs: (feature name, `numeric` | `categorical`), in bundle order."""
