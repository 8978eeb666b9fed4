"""Bulk load of profile tables into Redis, into a fresh version that goes live in one atomic switch.

A load writes every profile under a new version number (`fg:p:{card:id}:<version>`), with a TTL, and only then names
that version in the marker hash: one HSET, so a reader sees the old version or the new one, never half of each.
Readers re-read the marker at most every `executor.VERSION_REFRESH_S`; the replaced version is then retired with a
grace period well above that (its keys expire, they are not deleted under a reader's feet).

Speed: against a single Redis the rows are encoded to the Redis protocol (RESP) by Polars string expressions, a
whole chunk at once, and written on a socket of our own whose integer replies are counted rather than parsed; the
Python interpreter never touches a row. Against a cluster the same commands go through redis-py's cluster pipeline.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from typing import Any

import polars as pl
import redis
from redis.cluster import RedisCluster
from redis.typing import EncodableT, FieldT
from tqdm import tqdm

from features import keys
from features.specs import FeatureSet, ProfileSpec
from features.transport import command

CHUNK = 50_000
"""Rows encoded and sent at once (a few MB of protocol)."""

DEFAULT_TTL_S = 14 * 86400
"""Profiles (and the marker) expire unless reloaded: a stale feed degrades to missing profiles, not stale ones."""

RETIRE_GRACE_S = 300
"""How long a replaced version stays readable after the switch (readers re-check the version every second)."""

AnyRedis = redis.Redis | RedisCluster


def load_profiles(
    client: AnyRedis,
    feature_set: FeatureSet,
    tables: Mapping[str, pl.DataFrame],
    *,
    snapshot: str,
    progress: bool = True,
    ttl_s: int | None = DEFAULT_TTL_S,
    retire_grace_s: int = RETIRE_GRACE_S,
) -> dict[str, int]:
    """Write every profile table named by `feature_set` as a new version, then switch to it; rows per entity.

    `tables` maps an entity kind to its table; `ttl_s=None` keeps profiles until the next load retires them.
    """
    version = int(client.incr(keys.profiles_sequence_key(feature_set.name)))
    written: dict[str, int] = {}
    for spec in feature_set.profiles:
        table = tables.get(spec.entity)
        if table is None:
            continue
        frame = _profile_frame(spec, table)
        bar = tqdm(total=frame.height, desc=f"profiles {spec.entity}", unit="rows", disable=not progress)
        for chunk in frame.iter_slices(CHUNK):
            _write_chunk(client, spec, chunk, version, ttl_s)
            bar.update(chunk.height)
        bar.close()
        written[spec.entity] = frame.height
    marker_key = keys.profiles_marker_key(feature_set.name)
    old = client.hget(marker_key, "version")
    marker: dict[FieldT, EncodableT] = {"version": version, "snapshot": snapshot, "loaded_at": str(time.time())}
    marker.update({k: str(v) for k, v in written.items()})
    client.delete(marker_key)  # rows of entities this load lacks must not linger from the old marker
    client.hset(marker_key, mapping=marker)
    if ttl_s is not None:
        client.expire(marker_key, ttl_s)
    if old is not None:
        retire_version(client, int(old), retire_grace_s)
    return written


def retire_version(client: AnyRedis, version: int, grace_s: int) -> int:
    """Let every key of profile `version` expire within `grace_s` (never extending a shorter TTL); keys touched."""
    n = 0
    pipe = client.pipeline(transaction=False)
    for key in client.scan_iter(match=keys.profile_version_pattern(version), count=10_000):
        pipe.expire(key, grace_s, lt=True)
        n += 1
        if n % 10_000 == 0:
            pipe.execute()
    pipe.execute()
    return n


def loaded_snapshot(client: AnyRedis, feature_set: FeatureSet) -> str | None:
    """The snapshot id of the profiles in Redis, or None when none were loaded."""
    raw = client.hget(keys.profiles_marker_key(feature_set.name), "snapshot")
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _profile_frame(spec: ProfileSpec, table: pl.DataFrame) -> pl.DataFrame:
    """The id and the profile fields as strings (booleans as 1/0), nulls kept: they are simply not stored."""
    columns = [f.column for f in spec.fields]
    missing = [c for c in [spec.id_column, *columns] if c not in table.columns]
    if missing:
        raise ValueError(f"profile table `{spec.entity}` lacks columns {missing}; it has {table.columns}")

    def as_str(c: str) -> pl.Expr:
        col = pl.col(c)
        if table.schema[c] == pl.Boolean:
            return pl.when(col).then(pl.lit("1")).otherwise(pl.lit("0")).alias(c)
        return col.cast(pl.String).alias(c)

    return table.select(pl.col(spec.id_column).cast(pl.String).alias("_id"), *[as_str(c) for c in columns]).filter(
        pl.col("_id").is_not_null()
    )


def _write_chunk(client: AnyRedis, spec: ProfileSpec, chunk: pl.DataFrame, version: int, ttl_s: int | None) -> None:
    if isinstance(client, redis.Redis) and client.connection_pool.connection_class is redis.Connection:
        _write_raw(client, spec, chunk, version, ttl_s)
    else:
        _write_pipelined(client, spec, chunk, version, ttl_s)


def _bulk(expr: pl.Expr) -> pl.Expr:
    """A RESP bulk string of a String expression."""
    return pl.format("${}\r\n{}\r\n", expr.str.len_bytes(), expr)


def _resp(spec: ProfileSpec, version: int, ttl_s: int | None) -> list[pl.Expr]:
    """One protocol string per row (HSET of its non-null fields, then EXPIRE) and its number of replies."""
    key = pl.format(f"{keys.PREFIX}:p:{{{{{spec.entity}:{{}}}}}}:{version}", pl.col("_id"))
    fields = [f.column for f in spec.fields]
    n = pl.sum_horizontal([pl.col(c).is_not_null().cast(pl.Int64) for c in fields])
    parts = [
        pl.when(pl.col(c).is_not_null())
        .then(pl.lit(f"${len(c.encode())}\r\n{c}\r\n") + _bulk(pl.col(c)))
        .otherwise(pl.lit(""))
        for c in fields
    ]
    hset = pl.format("*{}\r\n$4\r\nHSET\r\n", 2 + 2 * n) + _bulk(key) + pl.concat_str(parts)
    if ttl_s is not None:
        hset = hset + pl.lit("*3\r\n$6\r\nEXPIRE\r\n") + _bulk(key) + pl.lit(f"${len(str(ttl_s))}\r\n{ttl_s}\r\n")
    return [pl.when(n > 0).then(hset).otherwise(pl.lit("")).alias("_cmd"), (n > 0).alias("_on")]


def _write_raw(client: redis.Redis, spec: ProfileSpec, chunk: pl.DataFrame, version: int, ttl_s: int | None) -> None:
    encoded = chunk.select(_resp(spec, version, ttl_s))
    replies = int(encoded["_on"].sum()) * (1 if ttl_s is None else 2)
    if replies == 0:
        return
    payload = encoded["_cmd"].str.join("").item().encode()
    with _raw_connection(client) as sock:
        sock.sendall(payload)
        _count_replies(sock, replies)


class _raw_connection:
    """A plain socket to the client's server, authenticated and on its database."""

    def __init__(self, client: redis.Redis) -> None:
        self.kw: dict[str, Any] = client.connection_pool.connection_kwargs
        self.sock: socket.socket | None = None

    def __enter__(self) -> socket.socket:
        kw = self.kw
        sock = socket.create_connection((kw.get("host", "localhost"), int(kw.get("port", 6379))), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        hello: list[bytes] = []
        if kw.get("password"):
            auth = [kw["username"], kw["password"]] if kw.get("username") else [kw["password"]]
            hello.append(command("AUTH", *auth))
        if int(kw.get("db") or 0):
            hello.append(command("SELECT", str(kw["db"])))
        if hello:
            sock.sendall(b"".join(hello))
            _count_replies(sock, len(hello))
        return sock

    def __exit__(self, *exc: object) -> None:
        if self.sock is not None:
            self.sock.close()


def _count_replies(sock: socket.socket, expected: int) -> None:
    """Read `expected` one-line replies (integers or +OK); an error reply raises with its text."""
    seen, last = 0, 0
    while seen < expected:
        data = sock.recv(1 << 20)
        if not data:
            raise redis.ConnectionError("Redis closed the connection during a profile load")
        if b"-" in data:  # replies here are `:n` or `+OK`; a minus only starts an error
            raise redis.ResponseError(f"profile load refused: {data[data.find(b'-') :][:200].decode(errors='replace')}")
        seen += data.count(b"\r\n") + (1 if last == ord("\r") and data[0] == ord("\n") else 0)
        last = data[-1]


def _write_pipelined(client: AnyRedis, spec: ProfileSpec, chunk: pl.DataFrame, version: int, ttl_s: int | None) -> None:
    columns = [f.column for f in spec.fields]
    pipe = client.pipeline(transaction=False)
    for row in chunk.iter_rows():
        mapping: dict[FieldT, EncodableT] = {c: v for c, v in zip(columns, row[1:], strict=True) if v is not None}
        if not mapping:
            continue
        key = keys.profile_key(spec.entity, row[0], version)
        pipe.hset(key, mapping=mapping)
        if ttl_s is not None:
            pipe.expire(key, ttl_s)
    pipe.execute()
