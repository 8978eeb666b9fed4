"""Feature store figures on a fresh local redis-server: loader rate, memory per entity, one-event assembly vs RTT.

Run: `.venv/bin/python benchmarks/features_store.py [--profiles 500000] [--events 5000]`
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import redis
import redis.asyncio as aredis

from engine.redis_server import LocalRedis
from features.card_payment import CARD_PAYMENT
from features.executor import FeatureExecutor
from features.loader import load_profiles
from features.plan import build_levels
from features.specs import with_timeouts
from features.updates import VelocityUpdater

FS = with_timeouts(CARD_PAYMENT, 1_000)
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def bench_loader(url: str, n: int) -> None:
    rng = np.random.default_rng(1)
    cards = pl.DataFrame(
        {
            "card_id": [f"card-{i}" for i in range(n)],
            "customer_id": [f"cus-{i}" for i in range(n)],
            "issuer_country": rng.choice(["BR", "US", "MX"], n),
            "card_age_days": rng.integers(0, 3000, n),
        }
    )
    client = redis.Redis.from_url(url)
    t = time.perf_counter()
    load_profiles(client, FS, {"card": cards}, snapshot="bench", progress=False)
    s = time.perf_counter() - t
    print(f"loader: {n:,} card profiles (3 fields, TTL, new version, switch) in {s:.2f} s = {n / s:,.0f} profiles/s")
    t = time.perf_counter()
    load_profiles(client, FS, {"card": cards}, snapshot="bench2", progress=False)
    s = time.perf_counter() - t
    print(f"loader: reload over a live version (incl. retiring {n:,} old keys) in {s:.2f} s = {n / s:,.0f} profiles/s")
    client.flushall()
    client.close()


async def bench_memory(url: str) -> None:
    """One entity per kind with a steady rate over 31 days; MEMORY USAGE of each of its keys."""
    client = aredis.Redis.from_url(url)
    updater = VelocityUpdater(FS, client)
    per_day = {"card": 5, "customer": 5, "device": 5, "ip": 20, "merchant": 500}
    rng = np.random.default_rng(2)
    for entity, rate in per_day.items():
        times = np.sort(rng.uniform(0, 31 * 86400, rate * 31))
        for start in range(0, len(times), 500):
            async with client.pipeline(transaction=False) as pipe:
                for i, dt in enumerate(times[start : start + 500], start):
                    many = entity != "card"  # a card sees ~20 merchants; the others see ~200 cards
                    ev = {
                        "event_id": f"{entity}-{i}",
                        "occurred_at": T0 + timedelta(seconds=float(dt)),
                        "amount": 10.0,
                        "card_id": f"c-{rng.integers(0, 200)}" if many else "c-0",
                        "customer_id": "cus-x",
                        "merchant_id": f"m-{rng.integers(0, 20)}" if entity != "merchant" else "m-0",
                        "device_id": "dev-x",
                        "ip": "ip-x",
                    }
                    updater.queue(pipe, ev)
                await pipe.execute()
    sync = redis.Redis.from_url(url)
    for key in sorted(k.decode() for k in sync.keys("fg:v:*")):
        if any(
            f"{{{e}:{x}}}" in key
            for e, x in [
                ("card", "c-0"),
                ("customer", "cus-x"),
                ("merchant", "m-0"),
                ("device", "dev-x"),
                ("ip", "ip-x"),
            ]
        ):
            print(
                f"memory: {key:<45} {sync.memory_usage(key):>7,} B  ({sync.type(key).decode()}, "
                f"{sync.hlen(key) if sync.type(key) == b'hash' else sync.zcard(key)} entries)"
            )
    sync.flushall()
    sync.close()
    await client.aclose()


async def bench_assembly(url: str, n: int, port: int) -> None:
    sync = redis.Redis.from_url(url)
    m = 2_000
    load_profiles(
        sync,
        FS,
        {
            "card": pl.DataFrame(
                {
                    "card_id": [f"card-{i}" for i in range(m)],
                    "customer_id": [f"cus-{i}" for i in range(m)],
                    "issuer_country": ["BR"] * m,
                    "card_age_days": list(range(m)),
                }
            ),
            "customer": pl.DataFrame(
                {
                    "customer_id": [f"cus-{i}" for i in range(m)],
                    "home_country": ["BR"] * m,
                    "account_age_days": [5] * m,
                    "avg_amount_90d": [50.0] * m,
                    "txn_count_90d": [9] * m,
                }
            ),
            "merchant": pl.DataFrame(
                {"merchant_id": ["m-1"], "merchant_age_days": [100], "chargeback_rate_90d": [0.01]}
            ),
            "device": pl.DataFrame({"device_id": ["d-1"], "device_age_days": [3], "n_cards_30d": [1]}),
        },
        snapshot="b",
        progress=False,
    )
    client = aredis.Redis.from_url(url)
    executor, updater = FeatureExecutor(FS, client), VelocityUpdater(FS, client)
    rows: list[dict[str, Any]] = [
        {
            "event_id": f"e{i}",
            "event_type": "card_payment",
            "occurred_at": T0 + timedelta(seconds=i * 7),
            "card_id": f"card-{i % m}",
            "customer_id": f"cus-{i % m}",
            "merchant_id": "m-1",
            "mcc": "5411",
            "amount": 10.0,
            "currency": "BRL",
            "country": "BR",
            "channel": "ecommerce",
            "device_id": "d-1",
            "ip": "1.2.3.4",
        }
        for i in range(n)
    ]
    lat = []
    for row in rows:
        t = time.perf_counter()
        (vec,) = await executor.fetch([row], time.monotonic() + 1)
        lat.append(time.perf_counter() - t)
        assert vec.failure is None
        async with client.pipeline(transaction=False) as pipe:
            updater.queue(pipe, row)
            await pipe.execute()
    await client.aclose()
    sync.close()
    us = np.array(lat[200:]) * 1e6
    nfeat = len(vec.values) - len(FS.event_fields)
    p50, p99 = np.percentile(us, 50), np.percentile(us, 99)
    print(
        f"assembly: {nfeat} features, {len(build_levels(FS))} levels, {len(us):,} events one at a time: "
        f"p50 {p50:.0f} µs, p99 {p99:.0f} µs"
    )
    cmd = [shutil.which("redis-benchmark") or "redis-benchmark", "-p", str(port), "-c", "1", "-n", "20000", "-q"]
    out = subprocess.run([*cmd, "-t", "ping"], capture_output=True, text=True, check=True).stdout
    rtt = float(re.findall(r"p50=([\d.]+) msec", out)[-1]) * 1000
    print(
        f"redis-benchmark (same run, -c 1, PING_MBULK) p50 round trip {rtt:.0f} µs -> assembly p50 = "
        f"{p50 / rtt:.1f} x RTT, p99 = {p99 / rtt:.1f} x RTT"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profiles", type=int, default=500_000)
    ap.add_argument("--events", type=int, default=5_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d, LocalRedis(Path(d), persist=False) as server:
        bench_loader(server.url, args.profiles)
        asyncio.run(bench_memory(server.url))
        asyncio.run(bench_assembly(server.url, args.events, server.port))


if __name__ == "__main__":
    main()
