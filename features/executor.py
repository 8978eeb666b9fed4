"""Fetch an event's features from Redis: one pipelined round trip per dependency level, bounded in time.

Several events (a batch) share the same round trips. A level that fails or runs out of time leaves its features, and
everything keyed on them, at their defaults; they are listed as missing and the failure is reported, never raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from features import keys
from features.derived import DerivedFeatures
from features.plan import Level, build_levels
from features.specs import FeatureSet, ProfileField, ValueType
from features.velocity import bucket_fields, bucket_of, granularities, window_values

Row = Mapping[str, Any]


class FeatureVector(msgspec.Struct):
    """The features of one event and what went wrong fetching them."""

    values: dict[str, Any]
    """Feature name to value (None = missing, left to the model's imputation)."""
    missing: list[str]
    """Features that took their default because the fetch failed or ran out of time."""
    failure: str | None = None
    """`deadline` or `redis_error` when a level did not complete; None otherwise."""


def parse_value(raw: bytes | None, field: ProfileField) -> Any:
    """A stored profile string back to its typed value; unparsable values take the default."""
    if raw is None:
        return field.default
    return _PARSERS[field.type](raw, field.default)


def _num(cast: Callable[[str], Any]) -> Callable[[bytes, Any], Any]:
    def parse(raw: bytes, default: Any) -> Any:
        try:
            return cast(raw.decode())
        except ValueError:
            return default

    return parse


_PARSERS: dict[ValueType, Callable[[bytes, Any], Any]] = {
    "str": lambda raw, _default: raw.decode(),
    "int": _num(int),
    "float": _num(float),
    "bool": lambda raw, _default: raw in (b"1", b"true", b"True"),
}


def _entity_id(row: Row, key: Sequence[str]) -> str | None:
    for k in key:
        v = row.get(k)
        if v is not None and v != "":
            return str(v)
    return None


class FeatureExecutor:
    """Fetches a `FeatureSet` from Redis for a batch of events. Built once; safe to share between requests."""

    def __init__(self, feature_set: FeatureSet, redis: Redis) -> None:
        self.feature_set = feature_set
        self.levels: tuple[Level, ...] = build_levels(feature_set)
        self.derived = DerivedFeatures(feature_set)
        self._redis = redis
        self._granularities = {v.entity: granularities(v) for v in feature_set.velocity}

    async def fetch(self, rows: Sequence[Row], deadline: float) -> list[FeatureVector]:
        """Features for each row, finishing by `deadline` (a `time.monotonic()` instant)."""
        out = [FeatureVector(values=dict(row), missing=[]) for row in rows]
        failure: str | None = None
        for level in self.levels:
            if failure is None:
                failure = await self._fetch_level(level, out, deadline)
            if failure is not None:
                self._default_level(level, out, failure)
        for vec in out:
            self.derived.apply(vec.values)
        return out

    async def _fetch_level(self, level: Level, out: list[FeatureVector], deadline: float) -> str | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "deadline"
        readers: list[Callable[[list[Any]], None]] = []
        async with self._redis.pipeline(transaction=False) as pipe:
            for vec in out:
                self._queue_level(level, vec, pipe, readers)
            if not readers:
                return None
            try:
                async with asyncio.timeout(min(remaining, level.timeout_s)):
                    replies = await pipe.execute(raise_on_error=False)
            except TimeoutError:
                return "deadline" if time.monotonic() >= deadline else "feature_timeout"
            except (RedisError, OSError):
                return "redis_error"
        if any(isinstance(r, Exception) for r in replies):
            return "redis_error"
        for read, reply in zip(readers, replies, strict=True):
            read(reply)
        return None

    def _queue_level(self, level: Level, vec: FeatureVector, pipe: Any, readers: list[Callable[[Any], None]]) -> None:
        values = vec.values
        for p in level.profiles:
            entity_id = _entity_id(values, p.key)
            if entity_id is None:
                for f in p.fields:
                    values[f.feature] = f.default
                continue
            pipe.hmget(keys.profile_key(p.entity, entity_id), [f.column for f in p.fields])
            readers.append(_profile_reader(values, p.fields))
        for v in level.velocity:
            entity_id = _entity_id(values, (v.key,))
            if entity_id is None:
                for w in v.windows:
                    values[w.count_feature] = None
                    if w.sum_feature:
                        values[w.sum_feature] = None
                continue
            ts = values["occurred_at"].timestamp()
            for g, kept in self._granularities[v.entity].items():
                pipe.hmget(keys.velocity_key(v.entity, entity_id, g), bucket_fields(bucket_of(ts, g), kept))
                windows = [w for w in v.windows if w.granularity_s == g]
                readers.append(_velocity_reader(values, kept, windows))

    def _default_level(self, level: Level, out: list[FeatureVector], failure: str) -> None:
        for vec in out:
            vec.failure = vec.failure or failure
            for p in level.profiles:
                for f in p.fields:
                    vec.values[f.feature] = f.default
                    vec.missing.append(f.feature)
            for v in level.velocity:
                for w in v.windows:
                    vec.values[w.count_feature] = None
                    vec.missing.append(w.count_feature)
                    if w.sum_feature:
                        vec.values[w.sum_feature] = None
                        vec.missing.append(w.sum_feature)


def _profile_reader(values: dict[str, Any], fields: Sequence[ProfileField]) -> Callable[[Any], None]:
    def read(reply: list[bytes | None]) -> None:
        for f, raw in zip(fields, reply, strict=True):
            values[f.feature] = parse_value(raw, f)

    return read


def _velocity_reader(values: dict[str, Any], kept: int, windows: Sequence[Any]) -> Callable[[Any], None]:
    def read(reply: list[bytes | None]) -> None:
        for w in windows:
            count, total = window_values(reply, kept, w)
            values[w.count_feature] = count
            if w.sum_feature:
                values[w.sum_feature] = total

    return read
