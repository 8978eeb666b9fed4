"""Online (Redis) features equal the offline (Polars) twin, event by event, on a single Redis and on a cluster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from fstest import Store, compare
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.card_payment import CARD_PAYMENT
from features.derived import DerivedFeatures
from features.labels import with_label_delay
from features.offline import compute_offline
from features.specs import DelayedRisk, DistinctWindow, FeatureSet, VelocitySpec, VelocityWindow, with_timeouts

FS = with_timeouts(CARD_PAYMENT, 2_000)


def test_generated_traffic_agrees(store: Store, small_data: Any, profiles: dict[str, pl.DataFrame]) -> None:
    """400 consecutive generated events (card-testing burst, entity reuse, labels 1 h late) agree on every feature."""
    _, data = small_data
    burst = data.events.with_row_index().filter(pl.col("typology") == "card_testing")["index"][0]
    window = data.events.slice(max(0, burst - 200), 400)
    labels = with_label_delay(window, 3600)
    events = window.drop("is_fraud", "typology")
    assert compare(store, FS, events, profiles, labels) == 400
    offline = compute_offline(events, profiles, FS, labels)
    assert offline["card_cnt_10m"].max() > 0 and offline["merchant_distinct_cards_1h"].max() > 1  # type: ignore[operator]


T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DAY = 86400

# a small set whose windows a few dozen drawn events can fill: hours and days, distinct counts, delayed labels
SMALL = FeatureSet(
    name="small",
    version="1",
    event_fields={
        "event_id": "str",
        "occurred_at": "datetime",
        "card_id": "str",
        "merchant_id": "str",
        "device_id": "str",
        "amount": "float",
    },
    profiles=(),
    velocity=(
        VelocitySpec(
            entity="card",
            key="card_id",
            windows=(
                VelocityWindow(count_feature="card_cnt_2h", sum_feature="card_sum_2h", buckets=2, granularity_s=3600),
                VelocityWindow(count_feature="card_cnt_3d", sum_feature="card_sum_3d", buckets=3, granularity_s=DAY),
            ),
            distinct=(
                DistinctWindow(feature="card_dm_1h", field="merchant_id", buckets=1, granularity_s=3600),
                DistinctWindow(feature="card_dm_3h", field="merchant_id", buckets=3, granularity_s=3600),
                DistinctWindow(feature="card_dd_2d", field="device_id", buckets=2, granularity_s=DAY),
            ),
        ),
        VelocitySpec(
            entity="merchant",
            key="merchant_id",
            windows=(VelocityWindow(count_feature="mer_cnt_1d", sum_feature=None, buckets=1, granularity_s=DAY),),
            distinct=(DistinctWindow(feature="mer_dc_2d", field="card_id", buckets=2, granularity_s=DAY),),
            delayed=(
                DelayedRisk(feature="mer_risk_1_2", delay_days=1, days=2),
                DelayedRisk(feature="mer_risk_2_1", delay_days=2, days=1),
            ),
            timeout_ms=2_000,
        ),
    ),
    derived=(),
)

event_st = st.fixed_dictionaries(
    {
        "dt": st.integers(0, 5 * DAY),
        "card_id": st.sampled_from(["c1", "c2", "c3", None]),
        "merchant_id": st.sampled_from(["m1", "m2", "m3"]),
        "device_id": st.sampled_from(["d1", "d2", None]),
        "amount": st.decimals(min_value=0, max_value=5000, places=2).map(float),
        "fraud": st.booleans(),
        "label_delay": st.integers(0, 3 * DAY),
    }
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(event_st, min_size=1, max_size=40))
def test_random_event_streams_agree(store: Store, drawn: list[dict[str, Any]]) -> None:
    """Drawn streams (same-second events, bucket edges, missing keys, labels arriving late) agree with the twin."""
    drawn = sorted(drawn, key=lambda d: d["dt"])
    rows = [
        {
            "event_id": f"e{i}",
            "occurred_at": T0 + timedelta(seconds=d["dt"]),
            "card_id": d["card_id"],
            "merchant_id": d["merchant_id"],
            "device_id": d["device_id"],
            "amount": d["amount"],
        }
        for i, d in enumerate(drawn)
    ]
    events = pl.DataFrame(
        rows, schema_overrides={"occurred_at": pl.Datetime("us", "UTC"), "card_id": pl.String, "device_id": pl.String}
    )
    labels = pl.DataFrame(
        [
            {**r, "labelled_at": r["occurred_at"] + timedelta(seconds=d["label_delay"]), "is_fraud": d["fraud"]}
            for r, d in zip(rows, drawn, strict=True)
        ],
        schema_overrides={
            "occurred_at": pl.Datetime("us", "UTC"),
            "labelled_at": pl.Datetime("us", "UTC"),
            "card_id": pl.String,
            "device_id": pl.String,
        },
    )
    compare(store, with_timeouts(SMALL, 2_000), events, {}, labels)


def test_delayed_label_is_invisible_until_known(store: Store) -> None:
    """A fraud label counts only from its `labelled_at` on, and only for the days the delay window covers."""
    at = [T0, T0 + timedelta(days=1), T0 + timedelta(days=2, hours=1), T0 + timedelta(days=2, hours=3)]
    events = pl.DataFrame(
        {
            "event_id": ["a", "b", "c", "d"],
            "occurred_at": at,
            "card_id": ["c1"] * 4,
            "merchant_id": ["m1"] * 4,
            "device_id": [None] * 4,
            "amount": [1.0] * 4,
        },
        schema_overrides={"occurred_at": pl.Datetime("us", "UTC"), "device_id": pl.String},
    )
    labels = events.head(1).with_columns(labelled_at=pl.lit(T0 + timedelta(days=2, hours=2)), is_fraud=pl.lit(True))
    out = compute_offline(events, {}, SMALL, labels)
    # day 2 reads days 0..1 (delay 1, 2 days): 2 sales; the fraud of day 0 is known from 02:00 on day 2 only
    assert out["mer_risk_1_2"].to_list() == [None, 0.0, 0.0, 0.5]
    assert out["mer_risk_2_1"].to_list() == [None, None, 0.0, 1.0]
    compare(store, with_timeouts(SMALL, 2_000), events, {}, labels)


def test_derived_features_match_frame() -> None:
    """Derived features: the row closure and the Polars expression give the same values, missing included."""
    derived = DerivedFeatures(FS)
    names = ("hour", "amount_to_avg", "foreign", "new_device", "unknown_card")
    rows = [
        {
            "occurred_at": T0,
            "amount": 10.0,
            "customer_avg_amount_90d": 4.0,
            "country": "BR",
            "customer_home_country": "US",
            "card_issuer_country": "BR",
            "device_id": "d",
            "device_age_days": None,
            "card_age_days": 3,
        },
        {
            "occurred_at": T0,
            "amount": 10.0,
            "customer_avg_amount_90d": 0.0,
            "country": "BR",
            "customer_home_country": None,
            "card_issuer_country": None,
            "device_id": None,
            "device_age_days": None,
            "card_age_days": None,
        },
    ]
    frame = derived.apply_frame(pl.DataFrame(rows, schema_overrides={"occurred_at": pl.Datetime("us", "UTC")}))
    for row, expected in zip(rows, frame.to_dicts(), strict=True):
        derived.apply(row)
        assert {k: row[k] for k in names} == {k: expected[k] for k in names}
    assert rows[0]["amount_to_avg"] == 2.5 and rows[1]["amount_to_avg"] is None  # division by zero is missing
    assert rows[0]["new_device"] is True and rows[1]["unknown_card"] is True
