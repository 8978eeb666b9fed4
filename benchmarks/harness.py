"""What the benchmark scripts share: waiting for a `fraudgate serve` they started, and reading its CPU and counters."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request
from pathlib import Path

_REQUESTS = re.compile(r"^fraudgate_http_requests_total\{([^}]*)\} ([0-9.e+]+)$", re.M)


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
