"""The Handbook stream: offline twin throughput over all 1.75 M transactions, and one day replayed through Redis.

Run: `.venv/bin/python benchmarks/features_handbook.py [--day 60]` (needs ../shared/datasets/handbook).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import datetime
from pathlib import Path

import polars as pl
import redis
import redis.asyncio as aredis

from engine.redis_server import LocalRedis
from features.handbook import DAY, DELAY_DAYS, HANDBOOK, handbook_events
from features.labels import load_labels, with_label_delay
from features.offline import compute_offline
from features.replay import replay, warm
from features.specs import with_timeouts

PATH = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "handbook" / "transactions.parquet"
FS = with_timeouts(HANDBOOK, 2_000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--day", type=int, default=60, help="TX_TIME_DAYS of the replayed day (>= 38 for full windows)")
    args = ap.parse_args()
    tx = pl.read_parquet(PATH)
    events = handbook_events(tx)
    labels = with_label_delay(events, DELAY_DAYS * DAY)
    events = events.drop("is_fraud")
    t = time.perf_counter()
    offline = compute_offline(events, {}, FS, labels)
    s = time.perf_counter() - t
    print(
        f"twin: {events.height:,} events x {len(FS.fetched_names()) + len(FS.derived)} features in {s:.2f} s "
        f"= {events.height / s:,.0f} events/s"
    )
    days = tx["TX_TIME_DAYS"]
    history = events.filter((days >= args.day - 38) & (days < args.day))
    today_mask = days == args.day
    today = events.filter(today_mask)
    with tempfile.TemporaryDirectory() as d, LocalRedis(Path(d), persist=False) as server:
        sync = redis.Redis.from_url(server.url)
        pending = labels.filter(pl.col("labelled_at") >= history["occurred_at"].min()).sort("labelled_at")

        def labels_known_by(at: datetime) -> None:
            nonlocal pending
            due = pending.filter(pl.col("labelled_at") <= at)
            if due.height:
                load_labels(sync, FS, due, progress=False)
                pending = pending.slice(due.height)

        async def run() -> list[dict[str, object]]:
            client = aredis.Redis.from_url(server.url)
            try:
                t0 = time.perf_counter()
                await warm(client, FS, history)
                w = time.perf_counter() - t0
                print(
                    f"online warm-up: {history.height:,} updates (38 days) in {w:.1f} s = {history.height / w:,.0f}/s"
                )
                labels_known_by(today["occurred_at"][0])
                t0 = time.perf_counter()
                out = await replay(client, FS, today, labels_known_by)
                r = time.perf_counter() - t0
                print(
                    f"online replay of day {args.day}: {today.height:,} events read+update one at a time in "
                    f"{r:.1f} s = {today.height / r:,.0f} events/s"
                )
                return out
            finally:
                await client.aclose()

        online = asyncio.run(run())
        sync.close()
    names = FS.fetched_names() + [d.feature for d in FS.derived]
    expected = offline.filter(today_mask).to_dicts()
    bad = sum(1 for on, off in zip(online, expected, strict=True) if any(not _same(on[n], off[n]) for n in names))
    print(f"online == offline: {len(expected) - bad:,} of {len(expected):,} events agree on all {len(names)} features")


def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))  # type: ignore[arg-type]
    return a == b


if __name__ == "__main__":
    main()
