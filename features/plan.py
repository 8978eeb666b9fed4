"""Order the feature specs into dependency levels: one Redis round trip per level.

Level 0 holds every lookup keyed by event fields (profiles and all velocity windows); a profile keyed by a feature of
level k sits at level k+1. The depth of this graph, not the number of features, sets the number of round trips.
"""

from __future__ import annotations

import msgspec

from features.specs import FeatureSet, ProfileSpec, VelocitySpec


class Level(msgspec.Struct, frozen=True):
    """Lookups that can be issued together, in one pipelined round trip."""

    profiles: tuple[ProfileSpec, ...]
    """Profile lookups of this level."""
    velocity: tuple[VelocitySpec, ...]
    """Velocity reads of this level (all at level 0: keyed by event fields)."""

    @property
    def timeout_s(self) -> float:
        """Most this level may take: the slowest of its specs' timeouts."""
        return max([p.timeout_ms for p in self.profiles] + [v.timeout_ms for v in self.velocity]) / 1000


def build_levels(fs: FeatureSet) -> tuple[Level, ...]:
    """Group `fs` into levels; a key that no event field or earlier profile provides is a ValueError."""
    produced_at: dict[str, int] = dict.fromkeys(fs.event_fields, -1)
    seen_features: set[str] = set()
    for p in fs.profiles:
        for f in p.fields:
            if f.feature in seen_features:
                raise ValueError(f"feature `{f.feature}` is defined twice; feature names must be unique")
            seen_features.add(f.feature)
    pending = list(fs.profiles)
    levels: list[list[ProfileSpec]] = []
    while pending:
        placed = [p for p in pending if all(k in produced_at for k in p.key)]
        if not placed:
            names = ", ".join(f"{p.entity} (key {list(p.key)})" for p in pending)
            raise ValueError(
                f"profiles {names} are keyed by fields that no event field or other profile provides "
                "(or their keys form a cycle)"
            )
        for p in placed:
            level = 1 + max(produced_at[k] for k in p.key)
            while len(levels) <= level:
                levels.append([])
            levels[level].append(p)
            for f in p.fields:
                produced_at[f.feature] = level
        pending = [p for p in pending if p not in placed]
    for v in fs.velocity:
        if v.key not in fs.event_fields:
            raise ValueError(f"velocity `{v.entity}` is keyed by `{v.key}`, which is not an event field")
    if not levels:
        levels.append([])
    return tuple(Level(profiles=tuple(ps), velocity=fs.velocity if i == 0 else ()) for i, ps in enumerate(levels))
