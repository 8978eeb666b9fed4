"""The Fraud Detection Handbook's transactions mapped onto the engine's features (the external yardstick).

Customer windows (count and amount over 1, 7 and 30 days) and terminal windows with the delayed terminal risk (share
of confirmed fraud over 1, 7 and 30 days, known after the handbook's 7-day feedback delay), as in its baseline
feature transformation. A customer is the card; a terminal is the merchant.
"""

from __future__ import annotations

import polars as pl

from features.specs import DelayedRisk, DerivedSpec, FeatureSet, VelocitySpec, VelocityWindow

DAY = 86400
DELAY_DAYS = 7


def _days(prefix: str, n: int, with_sum: bool) -> VelocityWindow:
    return VelocityWindow(
        count_feature=f"{prefix}_cnt_{n}d",
        sum_feature=f"{prefix}_sum_{n}d" if with_sum else None,
        buckets=n,
        granularity_s=DAY,
    )


HANDBOOK = FeatureSet(
    name="handbook",
    version="1",
    event_fields={
        "event_id": "str",
        "occurred_at": "datetime",
        "card_id": "str",
        "merchant_id": "str",
        "amount": "float",
    },
    profiles=(),
    velocity=(
        VelocitySpec(entity="customer", key="card_id", windows=tuple(_days("customer", n, True) for n in (1, 7, 30))),
        VelocitySpec(
            entity="terminal",
            key="merchant_id",
            windows=tuple(_days("terminal", n, False) for n in (1, 7, 30)),
            delayed=tuple(
                DelayedRisk(feature=f"terminal_risk_{n}d", delay_days=DELAY_DAYS, days=n) for n in (1, 7, 30)
            ),
        ),
    ),
    derived=(
        *(DerivedSpec(feature=f"customer_avg_{n}d", expr=f"customer_sum_{n}d / customer_cnt_{n}d") for n in (1, 7, 30)),
        DerivedSpec(feature="hour", expr="hour_of(occurred_at)"),
    ),
)
"""The Handbook's baseline features as engine specs."""


def handbook_events(tx: pl.DataFrame) -> pl.DataFrame:
    """Handbook transactions as engine events, in time order (the file's order), with `is_fraud`."""
    return tx.select(
        pl.col("TRANSACTION_ID").cast(pl.String).alias("event_id"),
        pl.col("TX_DATETIME").dt.replace_time_zone("UTC").alias("occurred_at"),
        pl.col("CUSTOMER_ID").cast(pl.String).alias("card_id"),
        pl.col("TERMINAL_ID").cast(pl.String).alias("merchant_id"),
        pl.col("TX_AMOUNT").alias("amount"),
        pl.col("TX_FRAUD").cast(pl.Boolean).alias("is_fraud"),
    )
