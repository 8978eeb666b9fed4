"""Replay an event log through the live Redis path: warm the store with updates, then read and update event by event.

Used to show, on a real stream, that online equals the offline twin (tests and `benchmarks/features_handbook.py`).
"""

from __future__ import annotations

import time
from typing import Any

import polars as pl
from redis.asyncio import Redis

from features.executor import FeatureExecutor
from features.specs import FeatureSet
from features.updates import VelocityUpdater

BATCH = 1_000


async def warm(client: Redis, fs: FeatureSet, events: pl.DataFrame) -> None:
    """Apply the velocity updates of `events` (in order) without reading: history before the replayed span."""
    updater = VelocityUpdater(fs, client)
    for chunk in events.iter_slices(BATCH):
        async with client.pipeline(transaction=False) as pipe:
            for row in chunk.iter_rows(named=True):
                updater.queue(pipe, row)
            await pipe.execute()


async def replay(client: Redis, fs: FeatureSet, events: pl.DataFrame, on_time: Any = None) -> list[dict[str, Any]]:
    """For each event: `on_time(occurred_at)` (e.g. load the labels known by then), read its features, update."""
    executor, updater = FeatureExecutor(fs, client), VelocityUpdater(fs, client)
    out = []
    for row in events.iter_rows(named=True):
        if on_time is not None:
            on_time(row["occurred_at"])
        (vec,) = await executor.fetch([row], time.monotonic() + 5)
        if vec.failure is not None:
            raise RuntimeError(f"event {row['event_id']}: fetch failed ({vec.failure})")
        out.append(vec.values)
        async with client.pipeline(transaction=False) as pipe:
            updater.queue(pipe, row)
            await pipe.execute()
    return out
