"""The store's contract on a single Redis and on a 3-master cluster: versions, TTLs, idempotency, shard locality."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from datetime import UTC, datetime
from typing import Any

import polars as pl
import redis
from fstest import Store
from redis import asyncio as aredis

from features import keys
from features.card_payment import CARD_PAYMENT
from features.executor import FeatureExecutor, FeatureVector
from features.loader import RETIRE_GRACE_S, load_profiles, loaded_snapshot
from features.specs import with_timeouts
from features.updates import VelocityUpdater

FS = with_timeouts(CARD_PAYMENT, 2_000)
EVENT: dict[str, Any] = {
    "event_id": "e1",
    "event_type": "card_payment",
    "occurred_at": datetime(2026, 11, 22, 10, tzinfo=UTC),
    "card_id": "card-1",
    "customer_id": "cus-1",
    "merchant_id": "mer-1",
    "mcc": "5411",
    "amount": 12.5,
    "currency": "BRL",
    "country": "BR",
    "channel": "ecommerce",
    "device_id": "dev-1",
    "ip": "10.0.0.1",
}


def _cards(age: int) -> dict[str, pl.DataFrame]:
    return {
        "card": pl.DataFrame(
            {
                "card_id": ["card-1", "card-2"],
                "customer_id": ["cus-1", None],
                "issuer_country": ["BR", "US"],
                "card_age_days": [age, age + 1],
            }
        )
    }


async def _fetch(store: Store, event: dict[str, Any], *, update: bool = False) -> FeatureVector:
    client = store.aio()
    try:
        (vec,) = await FeatureExecutor(FS, client).fetch([event], time.monotonic() + 5)
        if update:
            async with client.pipeline(transaction=False) as pipe:
                VelocityUpdater(FS, client).queue(pipe, event)
                await pipe.execute()
        return vec
    finally:
        await client.aclose()


def test_reload_switches_versions_whole_and_retires_the_old_one(store: Store) -> None:
    """A reload writes a new version with TTLs, switches in one step, and lets the old one expire after a grace."""
    client = store.sync()
    load_profiles(client, FS, _cards(10), snapshot="s1", progress=False, ttl_s=3600)
    assert asyncio.run(_fetch(store, EVENT)).values["card_age_days"] == 10
    load_profiles(client, FS, _cards(20), snapshot="s2", progress=False, ttl_s=3600)
    assert loaded_snapshot(client, FS) == "s2"
    assert asyncio.run(_fetch(store, EVENT)).values["card_age_days"] == 20
    v1, v2 = keys.profile_key("card", "card-1", 1), keys.profile_key("card", "card-1", 2)
    assert 0 < int(client.ttl(v1)) <= RETIRE_GRACE_S  # still readable by a reader that holds version 1
    assert RETIRE_GRACE_S < int(client.ttl(v2)) <= 3600
    assert client.hget(v2, "customer_id") == b"cus-1" and not client.hexists(
        keys.profile_key("card", "card-2", 2), "customer_id"
    )
    assert 0 < int(client.ttl(keys.profiles_marker_key(FS.name))) <= 3600
    client.close()


def test_retried_event_counts_once_everywhere(store: Store) -> None:
    """Counts, sums and distinct counts are idempotent by event_id; a second event sees the first."""
    asyncio.run(_fetch(store, EVENT, update=True))
    asyncio.run(_fetch(store, EVENT, update=True))  # the retry
    second = {**EVENT, "event_id": "e2", "merchant_id": "mer-2"}
    v = asyncio.run(_fetch(store, second, update=True)).values
    assert (v["card_cnt_10m"], v["card_sum_24h"], v["customer_cnt_30d"]) == (1, 12.5, 1)
    assert (v["card_distinct_merchants_24h"], v["merchant_distinct_cards_1h"], v["ip_distinct_cards_1h"]) == (1, 0, 1)
    third = asyncio.run(_fetch(store, {**EVENT, "event_id": "e3"})).values
    assert (third["card_cnt_1h"], third["card_distinct_merchants_24h"], third["merchant_cnt_1h"]) == (2, 2, 1)


def test_an_entitys_keys_share_one_slot() -> None:
    """Every key of one entity hashes to one slot, so a level is one round trip per shard."""
    from redis.cluster import key_slot

    names = [
        keys.profile_key("card", "x", 3),
        keys.velocity_key("card", "x", 60),
        keys.seen_key("card", "x"),
        keys.distinct_key("card", "x", "merchant_id", 3600),
        keys.label_key("card", "x"),
        keys.label_seen_key("card", "x"),
    ]
    assert len({key_slot(n.encode()) for n in names}) == 1


def test_every_velocity_key_has_a_ttl_and_old_buckets_are_forgotten(store: Store) -> None:
    """Housekeeping runs on the first event of each bucket: TTLs cover the longest window, old buckets go."""
    start = datetime(2026, 11, 22, 10, tzinfo=UTC).timestamp()
    at = start
    for i in range(120):  # one card for ~3.5 h, 50 s then 170 s apart: past the minute window, with empty minutes
        at = start + 220 * (i // 2) + 50 * (i % 2)
        event = {**EVENT, "event_id": f"h{i}", "occurred_at": datetime.fromtimestamp(at, tz=UTC)}
        asyncio.run(_fetch(store, event, update=True))
    client = store.sync()
    minute = keys.velocity_key("card", "card-1", 60)
    kept = max(w.buckets for v in FS.velocity if v.entity == "card" for w in v.windows if w.granularity_s == 60)
    assert 0 < int(client.ttl(minute)) <= (kept + 1) * 60
    assert 0 < int(client.ttl(keys.seen_key("card", "card-1"))) <= 7 * 86400
    last_bucket = int(at // 60)
    buckets = {int(f[1:]) for f in client.hkeys(minute)}
    assert max(buckets) == last_bucket
    assert min(buckets) > last_bucket - kept  # nothing older than the longest window is kept
    assert len(buckets) <= kept
    velocity_keys = list(client.scan_iter(match=f"{keys.PREFIX}:v:*"))
    assert len(velocity_keys) > 5  # hashes, seen sets and distinct sets of several entities
    for key in velocity_keys:
        assert int(client.ttl(key)) > 0, key


def _fetch_while_redis_sleeps(url: str, rows: list[dict[str, Any]], timeout_ms: float) -> list[FeatureVector]:
    """Fetch `rows` while the real Redis is blocked in DEBUG SLEEP 0.3 (started, and seen to block, first)."""

    async def run() -> list[FeatureVector]:
        client = aredis.Redis.from_url(url)
        executor = FeatureExecutor(with_timeouts(CARD_PAYMENT, timeout_ms), client)
        await executor.fetch(rows[:1], time.monotonic() + 5)  # warm: profile version, connection
        sleeper = threading.Thread(target=lambda: redis.Redis.from_url(url).execute_command("DEBUG", "SLEEP", "0.3"))
        sleeper.start()
        probe = redis.Redis.from_url(url, socket_timeout=0.01)
        with contextlib.suppress(redis.TimeoutError):
            while probe.ping():  # until a ping goes unanswered: Redis is asleep
                time.sleep(0.005)
        probe.close()
        try:
            return await executor.fetch(rows, time.monotonic() + 5)
        finally:
            sleeper.join()
            await client.aclose()

    return asyncio.run(run())


def test_a_batch_round_trip_gets_one_level_timeout_per_eight_events(redis_url: str) -> None:
    """A level timeout bounds a round trip of a few events: a big batch is not taken for a sick Redis."""
    events = [{**EVENT, "event_id": f"b{i}", "card_id": f"card-{i}"} for i in range(400)]
    (single,) = _fetch_while_redis_sleeps(redis_url, events[:1], timeout_ms=10)
    assert single.failure == "feature_timeout"  # 10 ms for one event: the 0.3 s sleep is a fault
    batch = _fetch_while_redis_sleeps(redis_url, events, timeout_ms=10)
    assert [v.failure for v in batch] == [None] * 400  # 400 events: 50 x 10 ms = 0.5 s, more than the sleep
