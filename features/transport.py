"""One pipelined Redis round trip, as cheap as this process can make it.

redis-py spends most of a feature fetch on itself, not on Redis: per command it packs the arguments, wraps them in a
pipeline stack, and per reply it runs a parser call and a response callback (profiled in docs/benchmarks/speed.md:
~40 % of a decision's CPU for ~14 commands in one round trip; Redis itself answers in a few microseconds).
`DirectTransport` does the same round trip with the RESP bytes built here (static parts encoded once, see `Args`) and
all replies parsed by one `hiredis.Reader` in one go, on connections borrowed from the client's own pool, so
connecting, AUTH/SELECT/HELLO, TLS, max_connections, `aclose()` and a pool-wide `disconnect()` stay redis-py's.
`PipelineTransport` is the plain redis-py pipeline: used for Redis Cluster (the cluster pipeline routes each command
to its shard) and for any client whose connections are not the stream-based kind `DirectTransport` knows.

Both give the same replies for the commands the executor sends (HMGET: list of bytes or None, ZCOUNT: int), except
HGETALL, which stays a flat list on the direct path: `pairs` turns either form into a dict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import hiredis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

READ_CHUNK = 1 << 16

KEEP_IDLE = 16
"""Connections a `DirectTransport` keeps for itself between round trips (more in flight go back to the pool)."""


def _bulk(arg: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(arg), arg)


def _encode(arg: str | int | bytes) -> bytes:
    return arg if isinstance(arg, bytes) else str(arg).encode()


class Args:
    """The arguments of a command after its key, with their RESP encoding made once (reuse the object to save it)."""

    __slots__ = ("items", "resp")

    def __init__(self, items: Sequence[str | int | bytes]) -> None:
        self.items = tuple(items)
        self.resp = _resp(self.items)


def command(*items: str | int | bytes) -> bytes:
    """One whole command in RESP (the array header and its bulk strings)."""
    return b"*%d\r\n%s" % (len(items), _resp(items))


def _resp(items: tuple[str | int | bytes, ...]) -> bytes:
    if bytes not in set(map(type, items)):
        # one string and one encode for the lot (the sink sends ~20 arguments per velocity update)
        text = "".join([f"${len(s)}\r\n{s}\r\n" for s in map(str, items)])
        if text.isascii():  # lengths above are in characters: only right when characters are bytes
            return text.encode()
    return b"".join([_bulk(_encode(a)) for a in items])


class Verb:
    """A command name, encoded once."""

    __slots__ = ("name", "resp")

    def __init__(self, name: str) -> None:
        self.name = name
        self.resp = _bulk(name.encode())


class Batch(Protocol):
    """Commands queued for one round trip."""

    def add(self, verb: Verb, key: str, args: Args) -> None:
        """Queue `verb key *args`."""


class Transport(Protocol):
    """Sends a batch in one round trip per node and returns one reply per command, in order; an error reply is
    returned as an exception instance, never raised. Raises TimeoutError past `timeout_s`, RedisError or OSError
    when the connection fails."""

    def batch(self) -> Batch:
        """An empty batch."""

    async def execute(self, batch: Any, timeout_s: float) -> list[Any]:
        """The replies of `batch` (made by `self.batch()`)."""


def pairs(reply: Any) -> dict[Any, Any]:
    """An HGETALL reply as a dict, from either transport (flat list on the direct path, dict through redis-py)."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


class _RespBatch:
    __slots__ = ("count", "parts")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.count = 0

    def add(self, verb: Verb, key: str, args: Args) -> None:
        k = key.encode()
        self.parts.append(b"*%d\r\n%s$%d\r\n%s\r\n%s" % (len(args.items) + 2, verb.resp, len(k), k, args.resp))
        self.count += 1


class DirectTransport:
    """RESP built here, replies parsed by hiredis in one pass, on connections of the client's pool (single node)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._idle: list[AbstractConnection] = []

    def batch(self) -> _RespBatch:
        """An empty batch."""
        return _RespBatch()

    async def execute(self, batch: _RespBatch, timeout_s: float) -> list[Any]:
        """The replies of `batch`, or TimeoutError / RedisError / OSError (the connection is then dropped)."""
        conn: AbstractConnection | None = self._idle.pop() if self._idle else None
        try:
            async with asyncio.timeout(timeout_s):
                if conn is None:
                    conn = await self._pool.get_connection()  # type: ignore[no-untyped-call]
                elif not conn.is_connected or conn._reader.at_eof():  # type: ignore[union-attr]
                    # closed by the server or by a pool-wide disconnect (breaker recovery, a restarted Redis)
                    await conn.disconnect(nowait=True)
                    await conn.connect()  # type: ignore[no-untyped-call]
                replies = await _round_trip(conn, b"".join(batch.parts), batch.count)
        except BaseException:
            if conn is not None:
                # replies may still be in flight: this connection is out of step, never reuse it
                await conn.disconnect(nowait=True)
                await self._pool.release(conn)
            raise
        if len(self._idle) < KEEP_IDLE:
            self._idle.append(conn)
        else:
            await self._pool.release(conn)
        return replies


async def _round_trip(conn: AbstractConnection, payload: bytes, count: int) -> list[Any]:
    # redis-py's own parser never reads here: we consume exactly the replies we asked for, so the connection is left
    # as redis-py expects it (nothing unread) for whoever uses it next
    reader, writer = conn._reader, conn._writer
    if reader is None or writer is None:
        raise RedisConnectionError("connection closed")
    writer.write(payload)
    parser = hiredis.Reader()
    out: list[Any] = []
    while len(out) < count:
        data = await reader.read(READ_CHUNK)
        if not data:
            raise RedisConnectionError("connection closed by the server")
        parser.feed(data)
        while (reply := parser.gets()) is not False:
            if reply.__class__ is not hiredis.PushNotification:
                # RESP3 pushes (e.g. maintenance notifications) are not replies: counting one would shift them all
                out.append(reply)
    if len(out) != count or parser.has_data():
        raise RedisConnectionError("more replies than commands: connection out of step")
    return out


class _PipeBatch:
    __slots__ = ("commands",)

    def __init__(self) -> None:
        self.commands: list[tuple[str | int | bytes, ...]] = []

    def add(self, verb: Verb, key: str, args: Args) -> None:
        self.commands.append((verb.name, key, *args.items))


class PipelineTransport:
    """redis-py's pipeline (a cluster pipeline for a cluster client: one round trip per shard)."""

    def __init__(self, redis: Redis | RedisCluster) -> None:
        self._redis = redis

    def batch(self) -> _PipeBatch:
        """An empty batch."""
        return _PipeBatch()

    async def execute(self, batch: _PipeBatch, timeout_s: float) -> list[Any]:
        """The replies of `batch`."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for command in batch.commands:
                pipe.execute_command(*command)
            async with asyncio.timeout(timeout_s):
                replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies


def transport_for(redis: Redis | RedisCluster) -> DirectTransport | PipelineTransport:
    """The direct transport for a single-node client of stream connections, redis-py's pipeline otherwise."""
    if isinstance(redis, Redis):
        pool = redis.connection_pool
        if isinstance(pool, ConnectionPool) and issubclass(pool.connection_class, AbstractConnection):
            return DirectTransport(pool)
    return PipelineTransport(redis)
