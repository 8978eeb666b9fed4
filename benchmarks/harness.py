"""What the benchmark scripts share: a demo `fraudgate serve` of their own, waiting for it, its CPU and counters."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.demo import ensure_demo_data, ensure_model, ensure_profiles
from engine.redis_server import LocalRedis, free_port
from engine.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

_REQUESTS = re.compile(r"^fraudgate_http_requests_total\{([^}]*)\} ([0-9.e+]+)$", re.M)


@dataclass(frozen=True)
class Served:
    """A running demo server: where it answers, its API key (scope `decide`), its process, its folders."""

    url: str
    key: str
    server: subprocess.Popen[bytes]
    work: Path
    events: Path
    """The demo events, to replay with the load tester."""


@contextmanager
def serve(
    work: Path, redis_url: str, model_dir: Path, **env: str
) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """One `fraudgate serve` on a free port against `redis_url` and the models in `model_dir`, with a fresh API key
    (scope `decide`) and extra environment `env`; yields (url, key, process) once ready, stops it on exit."""
    key = secrets.token_urlsafe(16)
    port = free_port()
    environment = {
        **os.environ,
        "FRAUDGATE_REDIS_URL": redis_url,
        "FRAUDGATE_PORT": str(port),
        "FRAUDGATE_API_KEYS": f"bench:{key}:decide",
        "FRAUDGATE_DATA_DIR": str(work),
        "FRAUDGATE_MODEL_DIR": str(model_dir),
        **env,
    }
    server = subprocess.Popen([str(ROOT / ".venv/bin/fraudgate"), "serve"], cwd=ROOT, env=environment)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, server)
        yield url, key, server
    finally:
        server.terminate()
        server.wait(timeout=20)


@contextmanager
def demo_server(prefix: str, **env: str) -> Iterator[Served]:
    """`serve` with the demo data and model of `make run` (made first when absent) and its own redis-server
    holding the demo profiles."""
    settings = Settings()
    demo = ensure_demo_data(settings.data_dir)
    ensure_model(settings, demo)
    work = Path(tempfile.mkdtemp(prefix=prefix))
    with LocalRedis(work / "redis", persist=False) as redis_server:
        ensure_profiles(redis_server.url, demo)
        with serve(work, redis_server.url, settings.model_dir, **env) as (url, key, server):
            yield Served(url, key, server, work, demo / "events.parquet")


def wait_ready(url: str, server: subprocess.Popen[bytes] | None = None, timeout_s: float = 30) -> None:
    """Poll `url`/readyz until it answers 200; exit when the server dies first or the time runs out."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if server is not None and server.poll() is not None:
            raise SystemExit(f"fraudgate serve exited with {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"engine at {url} not ready within {timeout_s} s")


def cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid`, all its threads, and its children (uvicorn's workers, when there are any), in
    nanoseconds from the scheduler (`/proc/*/stat` counts 10 ms ticks: too coarse for a 3-second run)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for task in Path(f"/proc/{p}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                continue  # a thread that just ended
    return total / 1e9


def answered(url: str, route: str, *, prefix: bool = False) -> int:
    """Requests the server answered on `route` (or, with `prefix`, every route starting so) so far, all statuses,
    from its own counter."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
        text = r.read().decode()
    want = f'route="{route}' if prefix else f'route="{route}"'
    return int(sum(float(v) for labels, v in _REQUESTS.findall(text) if want in labels))
