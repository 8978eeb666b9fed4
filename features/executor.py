"""Fetch an event's features from Redis: one pipelined round trip per dependency level, bounded in time.

Several events (a batch) share the same round trips. Profiles are read in the version the marker names; the executor
remembers it for `VERSION_REFRESH_S` and refreshes it in the background, and a replaced version lives on for a grace
period (`features.loader`), so every fetch reads one whole version. A level that fails or runs out of time leaves its
features, and everything keyed on them, at their defaults; they are listed as missing and the failure is reported,
never raised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from features import keys
from features.derived import DerivedFeatures
from features.plan import Level, build_levels
from features.specs import DelayedRisk, FeatureSet, ProfileField, ProfileSpec, ValueType, VelocitySpec
from features.transport import Args, Batch, Transport, Verb, pairs, transport_for
from features.velocity import (
    DAY,
    bucket_fields,
    bucket_of,
    delayed_days,
    distinct_range,
    granularities,
    window_values,
)

Row = Mapping[str, Any]

EVENTS_PER_TIMEOUT = 8
"""A level's timeout bounds a round trip of up to this many events; a batch's round trip gets one timeout per this
many events (still cut by the request's deadline), so that a large batch is not taken for a sick Redis."""

VERSION_REFRESH_S = 1.0
"""How long the live profile version is trusted before it is re-read (well under the loader's retire grace)."""

FIELDS_CACHE = 256
"""Encoded HMGET field lists of velocity buckets kept (they change once a minute per granularity)."""

HMGET, ZCOUNT, HGETALL = Verb("HMGET"), Verb("ZCOUNT"), Verb("HGETALL")
NO_ARGS = Args(())


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

    def __init__(self, feature_set: FeatureSet, redis: Redis | RedisCluster) -> None:
        self.feature_set = feature_set
        self.levels: tuple[Level, ...] = build_levels(feature_set)
        self.derived = DerivedFeatures(feature_set)
        self._redis = redis
        self._transport: Transport = transport_for(redis)
        self._granularities = {v.entity: granularities(v) for v in feature_set.velocity}
        self._windows = {
            (v.entity, g): [w for w in v.windows if w.granularity_s == g]
            for v in feature_set.velocity
            for g in self._granularities[v.entity]
        }
        # encoded once: the profile columns of every lookup, and the bucket field lists as buckets come by
        self._columns: dict[int, Args] = {id(p): Args([f.column for f in p.fields]) for p in feature_set.profiles}
        self._bucket_args: dict[tuple[int, int], Args] = {}
        self._version: int | None = None
        self._version_read_at = -float("inf")
        self._refresh: asyncio.Task[None] | None = None

    async def fetch(self, rows: Sequence[Row], deadline: float) -> list[FeatureVector]:
        """Features for each row, finishing by `deadline` (a `time.monotonic()` instant)."""
        out = [FeatureVector(values=dict(row), missing=[]) for row in rows]
        failure = await self._check_version(deadline) if self.feature_set.profiles else None
        for level in self.levels:
            if failure is None:
                failure = await self._fetch_level(level, out, deadline)
            if failure is not None:
                self._default_level(level, out, failure)
        for vec in out:
            self.derived.apply(vec.values)
        return out

    async def _check_version(self, deadline: float) -> str | None:
        """Make sure a profile version is known; a stale one is refreshed in the background, not on this request."""
        age = time.monotonic() - self._version_read_at
        if age < VERSION_REFRESH_S:
            return None
        if self._version_read_at > -float("inf"):
            if self._refresh is None or self._refresh.done():
                self._refresh = asyncio.create_task(self._read_version())
            return None
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await self._read_version()
        except TimeoutError:
            return "deadline"
        except (RedisError, OSError):
            return "redis_error"
        return None

    async def _read_version(self) -> None:
        raw = await self._redis.hget(keys.profiles_marker_key(self.feature_set.name), "version")
        self._version = int(raw) if raw is not None else None
        self._version_read_at = time.monotonic()

    async def _fetch_level(self, level: Level, out: list[FeatureVector], deadline: float) -> str | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "deadline"
        readers: list[Callable[[Any], None]] = []
        batch = self._transport.batch()
        for vec in out:
            self._queue_level(level, vec, batch, readers)
        if not readers:
            return None
        try:
            timeout = level.timeout_s * max(1.0, len(out) / EVENTS_PER_TIMEOUT)
            replies = await self._transport.execute(batch, min(remaining, timeout))
        except TimeoutError:
            return "deadline" if time.monotonic() >= deadline else "feature_timeout"
        except (RedisError, OSError):
            return "redis_error"
        if any(isinstance(r, Exception) for r in replies):
            return "redis_error"
        for read, reply in zip(readers, replies, strict=True):
            read(reply)
        return None

    def _queue_level(self, level: Level, vec: FeatureVector, pipe: Batch, readers: list[Callable[[Any], None]]) -> None:
        values = vec.values
        for p in level.profiles:
            entity_id = _entity_id(values, p.key)
            if entity_id is None or self._version is None:
                for f in p.fields:
                    values[f.feature] = f.default
                continue
            pipe.add(HMGET, keys.profile_key(p.entity, entity_id, self._version), self._profile_columns(p))
            readers.append(_profile_reader(values, p.fields))
        for v in level.velocity:
            entity_id = _entity_id(values, (v.key,))
            if entity_id is None:
                for name in _velocity_names(v):
                    values[name] = None
                continue
            self._queue_velocity(v, entity_id, values, pipe, readers)

    def _queue_velocity(
        self, v: VelocitySpec, entity_id: str, values: dict[str, Any], pipe: Batch, readers: list[Callable[[Any], None]]
    ) -> None:
        ts = values["occurred_at"].timestamp()
        day_counts: list[Any] = []
        for g, kept in self._granularities[v.entity].items():
            b = bucket_of(ts, g)
            pipe.add(HMGET, keys.velocity_key(v.entity, entity_id, g), self._bucket_fields(b, kept))
            windows = self._windows[(v.entity, g)]
            readers.append(_velocity_reader(values, kept, windows, day_counts if g == DAY else None))
        for d in v.distinct:
            lo, hi = distinct_range(bucket_of(ts, d.granularity_s), d)
            pipe.add(ZCOUNT, keys.distinct_key(v.entity, entity_id, d.field, d.granularity_s), Args((lo, hi)))
            readers.append(_scalar_reader(values, d.feature))
        if v.delayed:
            day = bucket_of(ts, DAY)
            kept = self._granularities[v.entity][DAY]
            pipe.add(HGETALL, keys.label_key(v.entity, entity_id), NO_ARGS)
            readers.append(_delayed_reader(values, v.delayed, day, kept, day_counts))

    def _profile_columns(self, p: ProfileSpec) -> Args:
        args = self._columns.get(id(p))
        if args is None:  # a spec not of this feature set's tuple (never in practice): encode it now
            args = self._columns[id(p)] = Args([f.column for f in p.fields])
        return args

    def _bucket_fields(self, bucket: int, kept: int) -> Args:
        args = self._bucket_args.get((bucket, kept))
        if args is None:
            if len(self._bucket_args) >= FIELDS_CACHE:
                self._bucket_args.clear()
            args = self._bucket_args[(bucket, kept)] = Args(bucket_fields(bucket, kept))
        return args

    def _default_level(self, level: Level, out: list[FeatureVector], failure: str) -> None:
        for vec in out:
            vec.failure = vec.failure or failure
            for p in level.profiles:
                for f in p.fields:
                    vec.values[f.feature] = f.default
                    vec.missing.append(f.feature)
            for v in level.velocity:
                for name in _velocity_names(v):
                    vec.values[name] = None
                    vec.missing.append(name)


def _profile_reader(values: dict[str, Any], fields: Sequence[ProfileField]) -> Callable[[Any], None]:
    def read(reply: list[bytes | None]) -> None:
        for f, raw in zip(fields, reply, strict=True):
            values[f.feature] = parse_value(raw, f)

    return read


def _velocity_names(v: VelocitySpec) -> list[str]:
    names = [n for w in v.windows for n in (w.count_feature, w.sum_feature) if n]
    return names + [d.feature for d in v.distinct] + [r.feature for r in v.delayed]


def _scalar_reader(values: dict[str, Any], feature: str) -> Callable[[Any], None]:
    def read(reply: int) -> None:
        values[feature] = int(reply)

    return read


def _delayed_reader(
    values: dict[str, Any], specs: Sequence[DelayedRisk], day: int, kept: int, day_counts: list[Any]
) -> Callable[[Any], None]:
    """Fraud share from the label hash (this reply) over the day counts the day-bucket reader kept."""

    def read(raw: Any) -> None:
        reply = pairs(raw)
        first = day - kept + 1  # bucket of day_counts[0]
        for r in specs:
            span = delayed_days(day, r.delay_days, r.days)
            txs = sum(int(day_counts[x - first]) for x in span if day_counts[x - first] is not None)
            frauds = sum(int(reply.get(f"f{x}".encode(), 0)) for x in span)
            values[r.feature] = frauds / txs if txs else None

    return read


def _velocity_reader(
    values: dict[str, Any], kept: int, windows: Sequence[Any], keep_counts: list[Any] | None
) -> Callable[[Any], None]:
    def read(reply: list[bytes | None]) -> None:
        if keep_counts is not None:
            keep_counts[:] = reply[:kept]
        for w in windows:
            count, total = window_values(reply, kept, w)
            values[w.count_feature] = count
            if w.sum_feature:
                values[w.sum_feature] = total

    return read
