"""A tiny keep-alive HTTP/1.1 client over `asyncio.Protocol`, driven open loop by a fixed schedule.

One `OpenLoopSender` per worker process. A timer fires at each intended send time and writes every request that is
due, whatever is still in flight: an idle keep-alive connection is reused, else a new one is opened (up to a cap);
only when the cap is reached does a request wait, and then its send is *late* and reported as such. Latency is
measured from the intended send time, so a stalled server shows up in the tail instead of slowing the generator down
(no coordinated omission). Times are `time.monotonic()`, which is system-wide on Linux, so workers share a clock.

Responses are framed by Content-Length (or chunked encoding); bodies are kept as bytes and parsed after the run.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from typing import cast

# Error kinds of a request that got no HTTP response; index into ERROR_KINDS.
OK, CONNECT_ERROR, TIMEOUT, DISCONNECTED, PROTOCOL_ERROR = range(5)
ERROR_KINDS = ("ok", "connect_error", "timeout", "disconnected", "protocol_error")

_HEAD_END = b"\r\n\r\n"
# Sends go out in ticks at least 1 ms apart: event-loop timers have 1 ms resolution, and a shorter wait would spin
# the loop (a 2000/s run burnt a whole core that way). Sends are thus up to ~1 ms behind their time by design, well
# under the default late-send threshold of 5 ms; the lag is measured and included in every latency.
MIN_TICK_S = 0.001


class _ProtocolError(Exception):
    """The server's bytes are not an HTTP/1.1 response we can frame."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying at most one request at a time (no pipelining)."""

    def __init__(self, sender: OpenLoopSender) -> None:
        self.sender = sender
        self.transport: asyncio.Transport | None = None
        self.request = -1  # index of the request in flight, -1 when idle
        self.buf = bytearray()
        self.status = 0
        self.body_start = -1  # offset of the body in buf once the head is parsed
        self.length = -1  # Content-Length, -1 for chunked
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport (asyncio and uvloop already set TCP_NODELAY)."""
        self.transport = cast(asyncio.Transport, transport)

    def send(self, index: int, data: bytes) -> None:
        """Write request `index`; the connection must be idle."""
        assert self.transport is not None
        self.request = index
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        """Accumulate bytes and hand over a response once it is complete."""
        if self.request < 0:
            self._fail(PROTOCOL_ERROR)
            return
        self.buf += data
        try:
            body = self._complete_body()
        except _ProtocolError:
            self._fail(PROTOCOL_ERROR)
            return
        if body is None:
            return
        index, status = self.request, self.status
        self.request, self.status, self.body_start, self.length = -1, 0, -1, -1
        self.buf.clear()
        self.sender.on_response(self, index, status, body)

    def _complete_body(self) -> bytes | None:
        if self.body_start < 0:
            end = self.buf.find(_HEAD_END)
            if end < 0:
                return None
            self._parse_head(bytes(self.buf[:end]))
            self.body_start = end + 4
        if self.length >= 0:
            stop = self.body_start + self.length
            return bytes(self.buf[self.body_start : stop]) if len(self.buf) >= stop else None
        return _dechunk(self.buf, self.body_start)

    def _parse_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise _ProtocolError
        self.status = int(parts[1])
        self.length = 0 if self.status in (204, 304) or 100 <= self.status < 200 else -2
        self.close_after = parts[0] == b"HTTP/1.0"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                self.length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                self.length = -1
            elif name == b"connection":
                self.close_after = value.strip().lower() == b"close"
        if self.length == -2:
            raise _ProtocolError  # body delimited by close: not worth supporting for a load generator

    def _fail(self, kind: int) -> None:
        index, self.request = self.request, -1
        if index >= 0:
            self.sender.on_error(index, kind)
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        """A request still in flight ends as `disconnected`; the sender forgets the connection."""
        if self.request >= 0:
            self.sender.on_error(self.request, DISCONNECTED)
            self.request = -1
        self.sender.on_lost(self)


def _dechunk(buf: bytearray, start: int) -> bytes | None:
    """The body of a complete chunked message in buf[start:], or None while incomplete."""
    out = bytearray()
    pos = start
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
        except ValueError as exc:
            raise _ProtocolError from exc
        if size == 0:
            return bytes(out) if buf.find(_HEAD_END, eol - 2) >= 0 else None
        chunk_end = eol + 2 + size
        if len(buf) < chunk_end + 2:
            return None
        out += buf[eol + 2 : chunk_end]
        pos = chunk_end + 2


class OpenLoopSender:
    """Sends `requests[i]` at `start + offsets[i]` over a pool of keep-alive connections, and records what happened.

    After `run`, `sent`, `done` hold monotonic times (NaN when it never happened), `status` the HTTP status (0 without
    a response), `error` the kind from `ERROR_KINDS`, and `bodies` the response bodies when `keep_bodies` is set.
    """

    def __init__(
        self,
        host: str,
        port: int,
        requests: list[bytes],
        offsets: list[float],
        *,
        max_connections: int,
        timeout_s: float,
        keep_bodies: bool,
    ) -> None:
        n = len(requests)
        if len(offsets) != n:
            raise ValueError(f"{n} requests but {len(offsets)} send times")
        self.host, self.port = host, port
        self.requests, self.offsets = requests, offsets
        self.max_connections, self.timeout_s, self.keep_bodies = max_connections, timeout_s, keep_bodies
        self.due: list[float] = []
        self.sent = [math.nan] * n
        self.done = [math.nan] * n
        self.status = [0] * n
        self.error = [OK] * n
        self.bodies: list[bytes | None] = [None] * n
        self.finished: list[int] = []  # indices in the order their outcome came: read by the progress snapshots
        self._idle: list[_Connection] = []
        self._conns: set[_Connection] = set()
        self._opening = 0
        self._waiting: deque[int] = deque()
        self._next = 0
        self._remaining = n
        self._finished: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def dispatched(self) -> int:
        """Requests whose send time has come (sent, or waiting for a connection)."""
        return self._next

    @property
    def connections(self) -> int:
        """Connections open or being opened."""
        return len(self._conns) + self._opening

    async def warm_up(self, connections: int) -> None:
        """Open up to `connections` idle connections before the clock starts (a failure here is not fatal)."""
        self._loop = asyncio.get_running_loop()
        await asyncio.gather(*(self._open() for _ in range(min(connections, self.max_connections))))

    async def run(self, start: float) -> None:
        """Send the whole schedule from monotonic time `start`; return once every request has an outcome."""
        self._loop = loop = asyncio.get_running_loop()
        self._finished = loop.create_future()
        self.due = [start + t for t in self.offsets]
        if not self.requests:
            return
        loop.call_later(max(0.0, self.due[0] - time.monotonic()), self._tick)
        loop.call_later(0.05, self._sweep)
        await self._finished
        for conn in list(self._conns):
            if conn.transport is not None:
                conn.transport.close()

    def _tick(self) -> None:
        due, n = self.due, len(self.due)
        now = time.monotonic()
        while self._next < n and due[self._next] <= now:
            self._dispatch(self._next)
            self._next += 1
            if self._next & 63 == 0:
                now = time.monotonic()
        if self._next < n and self._loop is not None:
            self._loop.call_later(max(MIN_TICK_S, due[self._next] - time.monotonic()), self._tick)

    def _dispatch(self, index: int) -> None:
        if self._idle:
            self._write(self._idle.pop(), index)
            return
        self._waiting.append(index)
        if self.connections < self.max_connections:
            self._spawn_open()

    def _write(self, conn: _Connection, index: int) -> None:
        self.sent[index] = time.monotonic()
        conn.send(index, self.requests[index])

    def _spawn_open(self) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._open())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _open(self) -> None:
        assert self._loop is not None
        self._opening += 1
        try:
            _, conn = await asyncio.wait_for(
                self._loop.create_connection(lambda: _Connection(self), self.host, self.port), self.timeout_s
            )
        except (TimeoutError, OSError):
            self._opening -= 1
            if self._waiting:  # the request that asked for this connection cannot be sent
                self.on_error(self._waiting.popleft(), CONNECT_ERROR)
            return
        self._opening -= 1
        self._conns.add(conn)
        self._release(conn)

    def _release(self, conn: _Connection) -> None:
        if self._waiting:
            self._write(conn, self._waiting.popleft())
        else:
            self._idle.append(conn)

    def on_response(self, conn: _Connection, index: int, status: int, body: bytes) -> None:
        """Record a complete response and reuse the connection."""
        self.done[index] = time.monotonic()
        self.status[index] = status
        self.finished.append(index)
        if self.keep_bodies:
            self.bodies[index] = body
        if conn.close_after:
            if conn.transport is not None:
                conn.transport.close()
        else:
            self._release(conn)
        self._settle()

    def on_error(self, index: int, kind: int) -> None:
        """Record a request that ended without a response."""
        if self.error[index] == OK and self.status[index] == 0:
            self.error[index] = kind
            self.finished.append(index)
            self._settle()

    def on_lost(self, conn: _Connection) -> None:
        """Forget a closed connection; open a replacement if requests are waiting."""
        self._conns.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)
        if self._waiting and self.connections < self.max_connections and self._loop is not None:
            self._spawn_open()

    def _settle(self) -> None:
        self._remaining -= 1
        if self._remaining == 0 and self._finished is not None and not self._finished.done():
            self._finished.set_result(None)

    def _sweep(self) -> None:
        """Every 50 ms: time out requests (in flight or still waiting) older than `timeout_s` since their due time."""
        now = time.monotonic()
        limit = now - self.timeout_s
        for conn in list(self._conns):
            if conn.request >= 0 and self.due[conn.request] < limit:
                conn._fail(TIMEOUT)
        while self._waiting and self.due[self._waiting[0]] < limit:
            self.on_error(self._waiting.popleft(), TIMEOUT)
        if self._finished is not None and not self._finished.done() and self._loop is not None:
            self._loop.call_later(0.05, self._sweep)
