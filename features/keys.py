"""Redis key layout, in one place.

Every key of one entity carries the hash tag `{entity:id}`, so that in Redis Cluster all of an entity's keys sit on
one shard and a dependency level stays one round trip per shard.
"""

from __future__ import annotations

PREFIX = "fg"


def profile_key(entity: str, entity_id: str, version: int) -> str:
    """Hash holding an entity's profile in loaded version `version`, e.g. `fg:p:{card:card-1}:3`."""
    return f"{PREFIX}:p:{{{entity}:{entity_id}}}:{version}"


def profile_version_pattern(version: int) -> str:
    """SCAN pattern of every profile key of `version` (to retire a replaced version)."""
    return f"{PREFIX}:p:{{*}}:{version}"


def velocity_key(entity: str, entity_id: str, granularity_s: int) -> str:
    """Hash of per-bucket counts (`c<bucket>`) and amount sums in cents (`s<bucket>`)."""
    return f"{PREFIX}:v:{{{entity}:{entity_id}}}:{granularity_s}"


def seen_key(entity: str, entity_id: str) -> str:
    """Sorted set of the event ids already counted for an entity (idempotency of velocity updates)."""
    return f"{PREFIX}:v:{{{entity}:{entity_id}}}:seen"


def distinct_key(entity: str, entity_id: str, field: str, granularity_s: int) -> str:
    """Sorted set of the distinct values of `field` seen for an entity, scored by the last bucket they were seen in."""
    return f"{PREFIX}:v:{{{entity}:{entity_id}}}:d:{field}:{granularity_s}"


def label_key(entity: str, entity_id: str) -> str:
    """Hash of confirmed frauds per transaction day (`f<day>`) of an entity, fed by `fraudgate labels load`."""
    return f"{PREFIX}:l:{{{entity}:{entity_id}}}"


def label_seen_key(entity: str, entity_id: str) -> str:
    """Sorted set of the event ids whose label was already counted for an entity (idempotent label loads)."""
    return f"{PREFIX}:l:{{{entity}:{entity_id}}}:seen"


def profiles_marker_key(feature_set: str) -> str:
    """Hash naming the live profile version (`version`, `snapshot`, rows, loaded_at); its swap is the atomic switch."""
    return f"{PREFIX}:meta:profiles:{feature_set}"


def profiles_sequence_key(feature_set: str) -> str:
    """Counter handing out profile version numbers (never reused, so a new load never writes into a live one)."""
    return f"{PREFIX}:meta:profiles:{feature_set}:seq"


DECISION_STREAM = f"{PREFIX}:log:decisions"
"""Redis Stream the decision log is appended to."""
