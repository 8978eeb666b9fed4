"""Velocity updates: every event (pre-policy decided ones too) counts once per entity, after its response."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript

from features import keys
from features.specs import FeatureSet
from features.velocity import DEDUPE_S, UPDATE_LUA, distinct_groups, granularities, to_cents


class VelocityUpdater:
    """Queues the atomic, idempotent Lua update of every velocity entity of an event onto a pipeline."""

    def __init__(self, feature_set: FeatureSet, redis: Redis | RedisCluster) -> None:
        self.feature_set = feature_set
        self._script: AsyncScript = redis.register_script(UPDATE_LUA)
        self._granularities = {v.entity: granularities(v) for v in feature_set.velocity}
        self._distinct = {v.entity: distinct_groups(v) for v in feature_set.velocity}

    @property
    def sha(self) -> str:
        """SHA1 of the update script (EVALSHA)."""
        return str(self._script.sha)

    def updates(self, event: Mapping[str, Any]) -> list[list[Any]]:
        """For each velocity entity of `event`: `numkeys, *keys, *argv` of one call of the update script."""
        ts = int(event["occurred_at"].timestamp())
        cents = to_cents(float(event["amount"]))
        out: list[list[Any]] = []
        for v in self.feature_set.velocity:
            entity_id = event.get(v.key)
            if entity_id is None or entity_id == "":
                continue
            grans = self._granularities[v.entity]
            key_list = [keys.seen_key(v.entity, str(entity_id))]
            args: list[Any] = [event["event_id"], ts, cents, DEDUPE_S, len(grans)]
            for g, kept in grans.items():
                key_list.append(keys.velocity_key(v.entity, str(entity_id), g))
                args += [g, kept, (kept + 1) * g]
            for (field, g), kept in self._distinct[v.entity].items():
                value = event.get(field)
                if value is None or value == "":
                    continue
                key_list.append(keys.distinct_key(v.entity, str(entity_id), field, g))
                args += [g, kept, (kept + 1) * g, str(value)]
            out.append([len(key_list), *key_list, *args])
        return out

    def queue(self, pipe: Any, event: Mapping[str, Any]) -> int:
        """Queue the updates for `event` on a redis-py pipeline `pipe`; returns how many commands were queued."""
        calls = self.updates(event)
        for call in calls:
            # AsyncScript.__call__ awaits; on a pipeline we queue EVALSHA ourselves and let the pipeline load the
            # script (SCRIPT EXISTS / LOAD) before it executes, as redis-py does for registered scripts.
            if hasattr(pipe, "scripts"):
                pipe.scripts.add(self._script)
                pipe.evalsha(self._script.sha, *call)
            else:
                # a cluster pipeline loads no scripts on its shards: EVAL carries the body (compiled once per shard)
                pipe.execute_command("EVAL", UPDATE_LUA, *call)
        return len(calls)
