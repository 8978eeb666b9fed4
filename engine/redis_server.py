"""A local `redis-server` process: started by `fraudgate run` and by the test session, stopped with them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from engine.errors import ConfigError


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """True when nothing listens on `port` on loopback."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class LocalRedis:
    """A redis-server child process with its data in `data_dir`; use as a context manager."""

    def __init__(self, data_dir: Path, port: int | None = None, *, persist: bool = True) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ConfigError(
                "redis-server is not installed: run `make run` (it installs Debian's redis-server) or set "
                "FRAUDGATE_REDIS_URL to a Redis you run yourself"
            )
        self.binary = binary
        self.data_dir = data_dir
        self.port = port or free_port()
        self.persist = persist
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """`redis://127.0.0.1:<port>/0`."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> LocalRedis:
        """Start the server and wait until it answers PING."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir.resolve()),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            "redis.log",
            "--save",
            "60 1000" if self.persist else "",
            "--appendonly",
            "no",
            # DEBUG SLEEP from loopback lets the fault tests make Redis slow for real
            "--enable-debug-command",
            "local",
        ]
        # args are our own (binary from PATH, ints and paths of ours), never request data
        self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        end = time.monotonic() + timeout_s
        try:
            while True:
                if self._proc.poll() is not None:
                    err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                    self.stop()
                    raise ConfigError(f"redis-server exited at start (code {self._proc.returncode}): {err.strip()}")
                try:
                    if client.ping():
                        return self
                except redis.ConnectionError:
                    pass
                if time.monotonic() > end:
                    self.stop()
                    raise ConfigError(f"redis-server did not answer on port {self.port} within {timeout_s} s")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()
