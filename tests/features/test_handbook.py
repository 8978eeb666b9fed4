"""The Handbook stream: the twin computes its features and a replayed day through Redis gives the same values."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
import redis
import redis.asyncio as aredis
from fstest import same

from features.handbook import DAY, DELAY_DAYS, HANDBOOK, handbook_events
from features.labels import load_labels, with_label_delay
from features.offline import compute_offline
from features.replay import replay, warm
from features.specs import with_timeouts

PATH = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "handbook" / "transactions.parquet"
FS = with_timeouts(HANDBOOK, 2_000)


@pytest.mark.handbook
def test_replayed_handbook_day_equals_the_twin(redis_url: str) -> None:
    """Day 40 of 300 customers, after 40 days of their history and labels 7 days late: online == offline."""
    if not PATH.exists():
        pytest.skip(f"the Handbook dataset is not at {PATH} (see docs/benchmarks/features.md)")
    tx = pl.scan_parquet(PATH).filter((pl.col("CUSTOMER_ID") < 300) & (pl.col("TX_TIME_DAYS") <= 40)).collect()
    events = handbook_events(tx)
    labels = with_label_delay(events, DELAY_DAYS * DAY)
    events = events.drop("is_fraud")
    offline = compute_offline(events, {}, FS, labels)
    day = tx["TX_TIME_DAYS"] == 40
    history, today = events.filter(~day), events.filter(day)
    sync = redis.Redis.from_url(redis_url)
    pending = labels.sort("labelled_at")

    def labels_known_by(t: datetime) -> None:
        nonlocal pending
        due = pending.filter(pl.col("labelled_at") <= t)
        if due.height:
            load_labels(sync, FS, due, progress=False)
            pending = pending.slice(due.height)

    async def run() -> list[dict[str, object]]:
        client = aredis.Redis.from_url(redis_url)
        try:
            await warm(client, FS, history)
            return await replay(client, FS, today, labels_known_by)
        finally:
            await client.aclose()

    online = asyncio.run(run())
    sync.close()
    names = FS.fetched_names() + [d.feature for d in FS.derived]
    expected = offline.filter(day).to_dicts()
    assert len(online) == len(expected) > 100
    for on, off in zip(online, expected, strict=True):
        diff = {n: (on[n], off[n]) for n in names if not same(on[n], off[n])}
        assert not diff, f"event {off['event_id']}: {diff}"
    assert sum(1 for r in expected if r["terminal_risk_30d"]) > 0  # the delayed risk really saw frauds
