"""The serving process freezes its start-up heap (engine/heap.py)."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from engine.heap import YOUNG_THRESHOLD


def test_settle_freezes_the_startup_heap_and_spaces_young_collections() -> None:
    code = (
        "import gc, json, engine.app\n"
        "from engine import heap\n"
        "before = gc.get_freeze_count()\n"
        "print(json.dumps([before, heap.settle(), gc.get_threshold()[0]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, frozen, young = json.loads(out)
    assert before == 0
    assert frozen > 10_000  # the app, Litestar, msgspec, LightGBM's wrappers: all long-lived
    assert young == YOUNG_THRESHOLD


def test_a_serving_process_settles_its_heap_after_start_up(serve_process: Callable[..., Any]) -> None:
    with serve_process() as (proc, url):
        with urllib.request.urlopen(url + "/readyz", timeout=10) as r:
            assert r.status == 200
        lines: list[str] = []
        sel = selectors.DefaultSelector()
        sel.register(proc.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("start-up heap frozen" in line for line in lines):
            if sel.select(timeout=0.5):
                lines.append(proc.stderr.readline().decode())
        frozen = [line for line in lines if "start-up heap frozen" in line]
        assert frozen, lines[-20:]
        assert int(frozen[0].split("start-up heap frozen: ")[1].split()[0]) > 10_000
