"""A trivial keep-alive HTTP/1.1 server: the generator's own ceiling, and a controllable stall for its tests.

`python -m loadtest.stub --port 8001` serves canned answers: `/v1/decide` a fixed decision (a pre-policy one,
`stub_small_amount`, when the event's `amount` is below 100), `/v1/decide/batch` one such decision per event,
`/stall` blocks the whole server once for `--stall-s` seconds (like a GC pause or a blocking call on the event loop)
the first time it is hit `--stall-after-s` seconds after its first hit; `/status/503` answers that status; anything
else `{"ok":true}`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import cast

import msgspec
import uvloop

DECISION = msgspec.json.encode(
    {
        "event_id": "stub",
        "action": "approve",
        "stage": "model",
        "rule": None,
        "score": 0.01,
        "calibrated": 0.01,
        "ecdf": 0.5,
        "reasons": [],
        "degraded": False,
        "degraded_reason": None,
        "policy_version": "stub",
        "model_version": "stub",
        "latency_ms": 0.1,
    }
)
PRE_POLICY_DECISION = msgspec.json.encode(
    {**msgspec.json.decode(DECISION), "stage": "pre_policy", "rule": "stub_small_amount", "score": None,
     "calibrated": None, "ecdf": None}
)  # fmt: skip
SMALL_AMOUNT = 100.0
"""Events with an `amount` below this get `PRE_POLICY_DECISION` (so filter ratios can be tested); others `DECISION`."""
_OK = b'{"ok":true}'


class _Event(msgspec.Struct):
    amount: float | None = None


class _Events(msgspec.Struct):
    events: list[_Event] = msgspec.field(default_factory=list)


_decode_event = msgspec.json.Decoder(_Event).decode
_decode_events = msgspec.json.Decoder(_Events).decode


def _decide(event: _Event) -> bytes:
    return PRE_POLICY_DECISION if event.amount is not None and event.amount < SMALL_AMOUNT else DECISION


def _decide_body(body: bytes, batch: bool) -> bytes:
    try:
        if batch:
            return b'{"decisions":[' + b",".join(_decide(e) for e in _decode_events(body).events) + b"]}"
        return _decide(_decode_event(body))
    except msgspec.DecodeError:
        return DECISION if not batch else b'{"decisions":[]}'


@dataclass
class StallState:
    """When the single stall happens."""

    stall_after_s: float = 0.5
    """Seconds after the first `/stall` request at which the server blocks."""
    stall_s: float = 1.0
    """How long the whole server blocks, once."""
    first_hit: float | None = None
    """Monotonic time of the first `/stall` request."""
    stalled: bool = False
    """Whether the stall already happened."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Guards the fields above (a server runs on one thread, but tests may read them)."""

    def maybe_stall(self) -> None:
        """Block the thread (and so the server's event loop) once, when the time has come."""
        now = time.monotonic()
        with self.lock:
            if self.first_hit is None:
                self.first_hit = now
            due = not self.stalled and now - self.first_hit >= self.stall_after_s
            self.stalled = self.stalled or due
        if due:
            time.sleep(self.stall_s)


def _response(body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


_DECISION_RESPONSE = _response(DECISION)
_OK_RESPONSE = _response(_OK)


class _StubProtocol(asyncio.Protocol):
    def __init__(self, stall: StallState) -> None:
        self.stall = stall
        self.buf = bytearray()
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)  # uvloop's transports are not registered subclasses

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buf[:end]).split(b"\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4 : end + 4 + length])
            del self.buf[: end + 4 + length]
            path = head[0].split(b" ")[1] if b" " in head[0] else b"/"
            if self.transport is not None:
                self.transport.write(self._answer(path, body))

    def _answer(self, path: bytes, body: bytes) -> bytes:
        if path.startswith(b"/v1/decide/batch"):
            return _response(_decide_body(body, batch=True))
        if path.startswith(b"/v1/decide"):
            return _response(_decide_body(body, batch=False)) if body else _DECISION_RESPONSE
        if path.startswith(b"/stall"):
            self.stall.maybe_stall()
        if path.startswith(b"/status/") and path[8:].isdigit():
            code = int(path[8:])
            return f"HTTP/1.1 {code} Stub\r\nContent-Length: 2\r\n\r\n{{}}".encode()
        return _OK_RESPONSE


async def serve(
    sock: socket.socket, stall: StallState, stop: asyncio.Event, listening: threading.Event | None = None
) -> None:
    """Serve on an already bound socket until `stop` is set; `listening` is set once connections are accepted."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _StubProtocol(stall), sock=sock, backlog=4096)
    async with server:
        if listening is not None:
            listening.set()
        await stop.wait()


def _bound_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


class StubServer:
    """The stub running on a background thread; a context manager that stops it on exit."""

    def __init__(self, stall: StallState | None = None, host: str = "127.0.0.1") -> None:
        self.stall = stall or StallState()
        self._sock = _bound_socket(host, 0)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await serve(self._sock, self.stall, self._stop, self._ready)

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main())

    def __enter__(self) -> StubServer:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the stub server did not start listening within 5 s")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


def main(argv: list[str] | None = None) -> int:
    """Run the stub in the foreground: `python -m loadtest.stub --port 8001`."""
    parser = argparse.ArgumentParser(prog="python -m loadtest.stub", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--stall-after-s", type=float, default=0.5)
    parser.add_argument("--stall-s", type=float, default=1.0)
    args = parser.parse_args(argv)
    sock = _bound_socket(args.host, args.port)
    print(f"stub listening on http://{args.host}:{sock.getsockname()[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(sock, StallState(args.stall_after_s, args.stall_s), asyncio.Event()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
