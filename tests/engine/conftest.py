"""Fixtures for tests that run a real `fraudgate serve` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from engine.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
ServeProcess = Callable[..., "contextmanager[tuple[subprocess.Popen[bytes], str]]"]


@pytest.fixture
def serve_process(redis_url: str, model_dir: Path, tmp_path: Path) -> Callable[..., object]:
    """Start `fraudgate serve` on a free port with extra environment; yields (process, base URL); stops it."""

    @contextmanager
    def start(scheme: str = "http", **env_extra: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
        port = free_port()
        env = {
            **os.environ,
            "FRAUDGATE_REDIS_URL": redis_url,
            "FRAUDGATE_PORT": str(port),
            "FRAUDGATE_API_KEYS": "t:s3cret:decide",
            "FRAUDGATE_MODEL_DIR": str(model_dir),
            "FRAUDGATE_DATA_DIR": str(tmp_path),
            **env_extra,
        }
        fraudgate = str(Path(sys.executable).parent / "fraudgate")
        proc = subprocess.Popen([fraudgate, "serve"], env=env, cwd=ROOT, stderr=subprocess.PIPE)
        url = f"{scheme}://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    with socket_open(port):
                        break
                except OSError:
                    time.sleep(0.1)
            yield proc, url
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            assert proc.stderr is not None
            proc.stderr.close()

    return start


@contextmanager
def socket_open(port: int) -> Iterator[None]:
    """Connects to `port` on loopback or raises OSError."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        yield


__all__ = ["httpx"]
