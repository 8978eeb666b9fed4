"""Online (Redis) features equal the offline (Polars) twin, event by event."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import redis
import redis.asyncio as aredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.card_payment import CARD_PAYMENT
from features.derived import DerivedFeatures
from features.executor import FeatureExecutor
from features.loader import load_profiles
from features.offline import compute_offline
from features.specs import FeatureSet, with_timeouts
from features.updates import VelocityUpdater

FS = with_timeouts(CARD_PAYMENT, 2_000)
NAMES = FS.fetched_names() + [d.feature for d in FS.derived]


async def _online(url: str, fs: FeatureSet, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    client = aredis.Redis.from_url(url)
    try:
        executor, updater = FeatureExecutor(fs, client), VelocityUpdater(fs, client)
        out = []
        for row in rows:
            (vec,) = await executor.fetch([row], time.monotonic() + 5)
            assert vec.failure is None, vec.failure
            out.append(vec.values)
            async with client.pipeline(transaction=False) as pipe:
                updater.queue(pipe, row)
                await pipe.execute()
        return out
    finally:
        await client.aclose()


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-9)
    return bool(a == b)


def _compare(events: pl.DataFrame, profiles: dict[str, pl.DataFrame], url: str) -> int:
    client = redis.Redis.from_url(url)
    client.flushall()
    load_profiles(client, FS, profiles, snapshot="t", progress=False)
    client.close()
    offline = compute_offline(events, profiles, FS).to_dicts()
    online = asyncio.run(_online(url, FS, events.to_dicts()))
    for i, (on, off) in enumerate(zip(online, offline, strict=True)):
        diff = {n: (on.get(n), off.get(n)) for n in NAMES if not _same(on.get(n), off.get(n))}
        assert not diff, f"event {i} ({off['event_id']}): online vs offline differ: {diff}"
    return len(online)


def test_generated_traffic_agrees(redis_url: str, small_data: Any, profiles: dict[str, pl.DataFrame]) -> None:
    """600 consecutive generated events (entity reuse, card-testing bursts included) agree on every feature."""
    _, data = small_data
    events = data.events.drop("is_fraud", "typology")
    # a slice where bursts and reuse make velocity non-trivial
    burst = data.events.with_row_index().filter(pl.col("typology") == "card_testing")["index"][0]
    window = events.slice(max(0, burst - 300), 600)
    assert _compare(window, profiles, redis_url) == 600
    assert compute_offline(window, profiles, FS)["card_cnt_10m"].max() > 0  # velocity really was exercised


T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

event_st = st.fixed_dictionaries(
    {
        "dt": st.integers(0, 3 * 3600),
        "card_id": st.sampled_from(["card-1", "card-2", "card-3"]),
        "device_id": st.sampled_from(["dev-1", "dev-2", None]),
        "ip": st.sampled_from(["10.0.0.1", "10.0.0.2", None]),
        "amount": st.decimals(min_value=0, max_value=5000, places=2).map(float),
        "country": st.sampled_from(["BR", "US"]),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(event_st, min_size=1, max_size=30))
def test_random_event_streams_agree(redis_url: str, drawn: list[dict[str, Any]]) -> None:
    """Hypothesis-drawn streams (same-second events, bucket edges, missing keys) agree with the offline twin."""
    drawn = sorted(drawn, key=lambda d: d["dt"])
    events = pl.DataFrame(
        [
            {
                "event_id": f"e{i}",
                "event_type": "card_payment",
                "occurred_at": T0 + timedelta(seconds=d["dt"]),
                "card_id": d["card_id"],
                "customer_id": None,
                "merchant_id": "mer-1",
                "mcc": "5411",
                "amount": d["amount"],
                "currency": "BRL",
                "country": d["country"],
                "channel": "ecommerce",
                "device_id": d["device_id"],
                "ip": d["ip"],
            }
            for i, d in enumerate(drawn)
        ],
        schema_overrides={"occurred_at": pl.Datetime("us", "UTC"), "customer_id": pl.String},
    )
    profiles = {
        "card": pl.DataFrame(
            {
                "card_id": ["card-1", "card-2"],
                "customer_id": ["cus-1", "cus-2"],
                "issuer_country": ["BR", "US"],
                "card_age_days": [10, 400],
            }
        ),
        "customer": pl.DataFrame(
            {
                "customer_id": ["cus-1"],
                "home_country": ["BR"],
                "account_age_days": [30],
                "avg_amount_90d": [0.0],
                "txn_count_90d": [3],
            }
        ),
    }
    _compare(events, profiles, redis_url)


def test_derived_features_match_frame() -> None:
    """Derived features: the row closure and the Polars expression give the same values, missing included."""
    derived = DerivedFeatures(FS)
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
        assert {k: row[k] for k in ("hour", "amount_to_avg", "foreign", "new_device", "unknown_card")} == {
            k: expected[k] for k in ("hour", "amount_to_avg", "foreign", "new_device", "unknown_card")
        }
    assert rows[0]["amount_to_avg"] == 2.5 and rows[1]["amount_to_avg"] is None  # division by zero is missing
    assert rows[0]["new_device"] is True and rows[1]["unknown_card"] is True
