"""A real `fraudgate serve` process: SIGTERM mid-traffic loses no decision it returned."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from engine.etl import drain, read_output


def test_sigterm_drains_in_flight_and_flushes_the_log(serve_process: Any, redis_url: str, tmp_path: Path) -> None:
    with serve_process() as (proc, url):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        returned: list[str] = []
        lock = threading.Lock()

        def client(worker: int) -> None:
            with httpx.Client(base_url=url, headers={"Authorization": "Bearer s3cret"}, timeout=5) as c:
                for i in range(400):
                    event: dict[str, Any] = {
                        "event_id": f"s-{worker}-{i}", "event_type": "card_payment",
                        "occurred_at": "2026-11-22T10:00:00Z", "card_id": f"card-{i % 5}", "merchant_id": "mer-1",
                        "mcc": "5999", "amount": 300.0, "currency": "BRL", "country": "BR", "channel": "ecommerce",
                    }  # fmt: skip
                    try:
                        r = c.post("/v1/decide", json=event)
                    except httpx.TransportError:
                        return  # the server has stopped accepting
                    assert r.status_code == 200, r.text
                    with lock:
                        returned.append(r.json()["event_id"])

        threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        while len(returned) < 100:
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join()
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status still says SIGTERM
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert 100 <= len(returned) < 1_600  # it stopped mid-traffic
    client_ = redis.Redis.from_url(redis_url)
    _, written = drain(client_, tmp_path / "etl", once=True, progress=False)
    client_.close()
    logged = read_output(tmp_path / "etl")["event_id"].to_list()
    assert sorted(logged) == sorted(returned)  # every decision returned is in the log, once
    assert written == len(returned)
