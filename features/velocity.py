"""Velocity windows on time buckets: the arithmetic shared by the online store and the offline twin.

A window of `n` buckets of `g` seconds, read for an event at time `t`, covers the buckets
`floor(t/g) - n + 1 ... floor(t/g)`: the current, partial bucket plus `n - 1` whole ones. It is exact in both paths
(integers throughout: amounts are summed in cents), which is what lets the property test demand equality.

Why hashes of buckets rather than a sorted set of events: memory is bounded by the number of buckets, not by the
traffic of the entity (an IP behind a NAT or a busy merchant would grow a sorted set without limit), and a read is one
HMGET per entity and granularity. The price is the bucket edge: a "10 minute" window spans 9 to 10 minutes.
"""

from __future__ import annotations

from collections.abc import Sequence

from features.specs import VelocitySpec, VelocityWindow

DEDUPE_S = 7 * 86400
"""How long an event id is remembered per entity, so a retried event is not counted twice."""

GRANULARITIES = (60, 3600, 86400)
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
    return keep


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
-- KEYS[1]: seen sorted set; KEYS[2..]: one bucket hash per granularity
-- ARGV: event_id, ts, cents, dedupe_s, then per granularity: seconds, buckets_kept, ttl_s
local ts = tonumber(ARGV[2])
if redis.call('ZADD', KEYS[1], 'NX', ts, ARGV[1]) == 0 then return 0 end
local dedupe = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (ts - dedupe))
redis.call('EXPIRE', KEYS[1], dedupe)
local cents = tonumber(ARGV[3])
for i = 2, #KEYS do
  local base = 5 + (i - 2) * 3
  local g = tonumber(ARGV[base])
  local keep = tonumber(ARGV[base + 1])
  local b = math.floor(ts / g)
  redis.call('HINCRBY', KEYS[i], 'c' .. b, 1)
  redis.call('HINCRBY', KEYS[i], 's' .. b, cents)
  -- forget the buckets that have just left the longest window; a full sweep only when gaps left strays behind
  for old = b - keep - 2, b - keep do
    redis.call('HDEL', KEYS[i], 'c' .. old, 's' .. old)
  end
  if redis.call('HLEN', KEYS[i]) > 2 * (keep + 8) then
    for _, f in ipairs(redis.call('HKEYS', KEYS[i])) do
      if tonumber(string.sub(f, 2)) <= b - keep then redis.call('HDEL', KEYS[i], f) end
    end
  end
  redis.call('EXPIRE', KEYS[i], ARGV[base + 2])
end
return 1
"""
"""Atomic, idempotent update of one entity's buckets; returns 1 when counted, 0 when the event was seen before."""
