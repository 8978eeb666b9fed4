"""Label feedback: confirmed frauds (chargebacks), days after the fact, feed the delayed risk features.

A label adds one to its entity's fraud count of the transaction's day (`fg:l:{merchant:id}`, field `f<day>`), at
most once per (entity, event_id). Only labels loaded by the time of a read count, which is what the offline twin
reproduces with `labelled_at <= event time` (`features.offline_velocity`).
"""

from __future__ import annotations

import polars as pl
import redis
from redis.cluster import RedisCluster
from tqdm import tqdm

from features import keys
from features.offline_velocity import fraud_labels
from features.specs import FeatureSet

CHUNK = 5_000

LABEL_LUA = """
-- KEYS[1]: label seen set, KEYS[2]: fraud count per day; ARGV: event_id, labelled_ts, tx_day, keep_days
local lab = tonumber(ARGV[2])
local keep = tonumber(ARGV[4])
if redis.call('ZADD', KEYS[1], 'NX', lab, ARGV[1]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (lab - keep * 86400))
redis.call('EXPIRE', KEYS[1], keep * 86400)
redis.call('HINCRBY', KEYS[2], 'f' .. ARGV[3], 1)
if redis.call('HLEN', KEYS[2]) > keep + 8 then
  local today = math.floor(lab / 86400)
  for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do
    if tonumber(string.sub(f, 2)) < today - keep then redis.call('HDEL', KEYS[2], f) end
  end
end
redis.call('EXPIRE', KEYS[2], keep * 86400)
return 1
"""
"""Idempotent count of one fraud label; 1 when counted, 0 when this event's label was already counted."""


def load_labels(
    client: redis.Redis | RedisCluster, feature_set: FeatureSet, labels: pl.DataFrame, *, progress: bool = True
) -> dict[str, int]:
    """Count the fraud labels of `labels` (event_id, entity key columns, occurred_at, labelled_at, optional is_fraud)
    for every entity with delayed features; returns labels newly counted per entity (a reload counts 0)."""
    counted: dict[str, int] = {}
    for spec in feature_set.velocity:
        if not spec.delayed:
            continue
        if spec.key not in labels.columns:
            raise ValueError(f"labels need the column `{spec.key}` for the delayed features of `{spec.entity}`")
        keep = max(r.delay_days + r.days for r in spec.delayed) + 1
        frauds = fraud_labels(labels, spec.key)
        n = 0
        bar = tqdm(total=frauds.height, desc=f"labels {spec.entity}", unit="labels", disable=not progress)
        for chunk in frauds.iter_slices(CHUNK):
            pipe = client.pipeline(transaction=False)
            for entity_id, event_id, tx_day, lab_ts in chunk.iter_rows():
                ks = (keys.label_seen_key(spec.entity, entity_id), keys.label_key(spec.entity, entity_id))
                pipe.execute_command("EVAL", LABEL_LUA, 2, *ks, event_id, lab_ts, tx_day, keep)
            n += sum(int(r) for r in pipe.execute())
            bar.update(chunk.height)
        bar.close()
        counted[spec.entity] = n
    return counted


def with_label_delay(events: pl.DataFrame, delay_s: int, *, label: str = "is_fraud") -> pl.DataFrame:
    """Labels from an event log that carries its outcome: each becomes known `delay_s` after the transaction."""
    if label not in events.columns:
        raise ValueError(f"the event log has no label column `{label}`")
    return events.filter(pl.col(label).cast(pl.Boolean)).with_columns(
        (pl.col("occurred_at") + pl.duration(seconds=delay_s)).alias("labelled_at"), pl.lit(True).alias("is_fraud")
    )
