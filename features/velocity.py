"""Velocity windows on time buckets: the arithmetic shared by the online store and the offline twin.

A window of `n` buckets of `g` seconds, read for an event at time `t`, covers the buckets
`floor(t/g) - n + 1 ... floor(t/g)`: the current, partial bucket plus `n - 1` whole ones. It is exact in both paths
(integers throughout: amounts are summed in cents), which is what lets the property test demand equality.

Why hashes of buckets rather than a sorted set of events: memory is bounded by the number of buckets, not by the
traffic of the entity (an IP behind a NAT or a busy merchant would grow a sorted set without limit), and a read is one
HMGET per entity and granularity. The price is the bucket edge: a "10 minute" window spans 9 to 10 minutes.
Long windows use coarse buckets (30 days = 30 day buckets), so a read never fetches more than a few dozen fields.

Distinct counts are exact: a sorted set per entity, field and granularity maps each value to the last bucket it was
seen in, trimmed to the longest window, so a read is one ZCOUNT and memory grows with the distinct values of the
window, not with traffic. (A HyperLogLog would cap memory at 12 kB per key but is approximate, which would break the
online = offline guarantee; a card or device sees a handful of distinct values a day, far below where it pays.) It
assumes events arrive in time order to within a bucket: a value seen again later keeps its later bucket.
"""

from __future__ import annotations

from collections.abc import Sequence

from features.specs import DistinctWindow, VelocitySpec, VelocityWindow

DEDUPE_S = 7 * 86400
"""How long an event id is remembered per entity, so a retried event is not counted twice."""

DAY = 86400

GRANULARITIES = (60, 3600, DAY)
"""Bucket sizes we support: minutes, hours, days."""


def to_cents(amount: float) -> int:
    """Amount in minor units, rounded half away from zero (both paths use this)."""
    return int(amount * 100 + (0.5 if amount >= 0 else -0.5))


def bucket_of(epoch_s: float, granularity_s: int) -> int:
    """Index of the bucket holding `epoch_s`."""
    return int(epoch_s // granularity_s)


def granularities(spec: VelocitySpec) -> dict[int, int]:
    """For each granularity the spec uses, the longest window in buckets (what must be kept)."""
    keep: dict[int, int] = {}
    for w in spec.windows:
        if w.granularity_s not in GRANULARITIES:
            raise ValueError(
                f"velocity window `{w.count_feature}`: granularity_s must be one of {GRANULARITIES}, "
                f"got {w.granularity_s}"
            )
        keep[w.granularity_s] = max(keep.get(w.granularity_s, 0), w.buckets)
    for r in spec.delayed:
        if r.delay_days < 1 or r.days < 1:
            raise ValueError(f"delayed feature `{r.feature}`: delay_days and days must be >= 1")
        # the transaction counts of the delayed window come from the day buckets
        keep[DAY] = max(keep.get(DAY, 0), r.delay_days + r.days)
    return keep


def distinct_groups(spec: VelocitySpec) -> dict[tuple[str, int], int]:
    """For each (field, granularity) of the spec's distinct windows, the longest window in buckets."""
    keep: dict[tuple[str, int], int] = {}
    for d in spec.distinct:
        if d.granularity_s not in GRANULARITIES:
            raise ValueError(
                f"distinct window `{d.feature}`: granularity_s must be one of {GRANULARITIES}, got {d.granularity_s}"
            )
        k = (d.field, d.granularity_s)
        keep[k] = max(keep.get(k, 0), d.buckets)
    return keep


def distinct_range(bucket: int, window: DistinctWindow) -> tuple[int, int]:
    """ZCOUNT bounds (inclusive) of `window` read in `bucket`."""
    return bucket - window.buckets + 1, bucket


def delayed_days(day: int, delay_days: int, days: int) -> range:
    """The transaction days a delayed feature read on `day` covers."""
    return range(day - delay_days - days + 1, day - delay_days + 1)


def bucket_fields(bucket: int, n: int) -> list[str]:
    """HMGET field names for the `n` buckets ending at `bucket`: counts then sums."""
    idx = range(bucket - n + 1, bucket + 1)
    return [f"c{b}" for b in idx] + [f"s{b}" for b in idx]


def window_values(values: Sequence[bytes | str | None], n_kept: int, window: VelocityWindow) -> tuple[int, float]:
    """Count and amount sum of `window` from an HMGET reply laid out by `bucket_fields(bucket, n_kept)`."""
    counts = values[:n_kept]
    sums = values[n_kept:]
    start = n_kept - window.buckets
    count = sum(int(v) for v in counts[start:] if v is not None)
    cents = sum(int(v) for v in sums[start:] if v is not None)
    return count, cents / 100


UPDATE_LUA = """
-- KEYS[1]: seen sorted set; KEYS[2 .. ng+1]: one bucket hash per granularity; then one distinct sorted set each
-- ARGV: event_id, ts, cents, dedupe_s, ng, then per granularity: seconds, buckets_kept, ttl_s,
--       then per distinct set: seconds, buckets_kept, ttl_s, value
-- Housekeeping (forgetting old buckets and event ids, refreshing TTLs) runs only on the first event of a bucket:
-- an event inside a bucket already started costs one ZADD and two HINCRBY per granularity. Every TTL covers the
-- longest window from the start of the newest bucket ((kept + 1) * seconds), so no window loses a bucket it reads.
local ts = tonumber(ARGV[2])
if redis.call('ZADD', KEYS[1], 'NX', ts, ARGV[1]) == 0 then return 0 end
local cents = tonumber(ARGV[3])
local ng = tonumber(ARGV[5])
local fresh = ng == 0
local a = 6
for i = 2, ng + 1 do
  local g = tonumber(ARGV[a])
  local b = math.floor(ts / g)
  if redis.call('HINCRBY', KEYS[i], 'c' .. b, 1) == 1 then
    -- bucket b begins: forget the buckets that have just left the longest window (a full sweep only when gaps
    -- left strays behind) and push the TTL out
    fresh = true
    local keep = tonumber(ARGV[a + 1])
    local o = b - keep
    redis.call('HDEL', KEYS[i], 'c' .. o, 's' .. o, 'c' .. (o - 1), 's' .. (o - 1), 'c' .. (o - 2), 's' .. (o - 2))
    if redis.call('HLEN', KEYS[i]) > 2 * (keep + 8) then
      for _, f in ipairs(redis.call('HKEYS', KEYS[i])) do
        if tonumber(string.sub(f, 2)) <= o then redis.call('HDEL', KEYS[i], f) end
      end
    end
    redis.call('EXPIRE', KEYS[i], ARGV[a + 2])
  end
  redis.call('HINCRBY', KEYS[i], 's' .. b, cents)
  a = a + 3
end
if fresh then
  local dedupe = tonumber(ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (ts - dedupe))
  redis.call('EXPIRE', KEYS[1], dedupe)
end
for i = ng + 2, #KEYS do
  local b = math.floor(ts / tonumber(ARGV[a]))
  -- GT: a value keeps the latest bucket it was seen in; values older than the longest window go
  redis.call('ZADD', KEYS[i], 'GT', b, ARGV[a + 3])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', b - tonumber(ARGV[a + 1]))
  redis.call('EXPIRE', KEYS[i], ARGV[a + 2])
  a = a + 4
end
return 1
"""
"""Atomic, idempotent update of one entity's buckets and distinct sets; 1 when counted, 0 when seen before."""
