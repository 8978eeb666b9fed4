"""Redis key layout, in one place.

Every key of one entity carries the hash tag `{entity:id}`, so that in Redis Cluster all of an entity's keys sit on
one shard and a dependency level stays one round trip per shard.
"""

from __future__ import annotations

PREFIX = "fg"


def profile_key(entity: str, entity_id: str) -> str:
    """Hash holding an entity's profile, e.g. `fg:p:{card:card-1}`."""
    return f"{PREFIX}:p:{{{entity}:{entity_id}}}"


def velocity_key(entity: str, entity_id: str, granularity_s: int) -> str:
    """Hash of per-bucket counts (`c<bucket>`) and amount sums in cents (`s<bucket>`)."""
    return f"{PREFIX}:v:{{{entity}:{entity_id}}}:{granularity_s}"


def seen_key(entity: str, entity_id: str) -> str:
    """Sorted set of the event ids already counted for an entity (idempotency of velocity updates)."""
    return f"{PREFIX}:v:{{{entity}:{entity_id}}}:seen"


def profiles_marker_key(feature_set: str) -> str:
    """Hash recording which profile snapshot is loaded (version, rows, loaded_at)."""
    return f"{PREFIX}:meta:profiles:{feature_set}"


DECISION_STREAM = f"{PREFIX}:log:decisions"
"""Redis Stream the decision log is appended to."""
