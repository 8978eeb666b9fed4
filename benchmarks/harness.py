"""What the benchmark scripts share: waiting for a `fraudgate serve` they started to be ready."""

from __future__ import annotations

import subprocess
import time
import urllib.request


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
