"""Redis killed and restarted under traffic: every request answered, degraded only during the outage, nothing lost.

    .venv/bin/python benchmarks/fault_bench.py [--rate 100] [--before 5] [--outage 5] [--after 5]

Starts a persistent redis-server and `fraudgate serve` on free ports (demo model of `make run`), sends card payments
open-loop at `--rate`/s, stops Redis after `--before` s, starts it again `--outage` s later, keeps sending for
`--after` s, stops the server (SIGTERM), drains the stream with the ETL and counts. Prints one row per phase.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from benchmarks.harness import wait_ready  # noqa: E402
from engine.demo import ensure_demo_data, ensure_model, ensure_profiles  # noqa: E402
from engine.etl import drain, read_output  # noqa: E402
from engine.redis_server import LocalRedis, free_port  # noqa: E402
from engine.settings import Settings  # noqa: E402


def _event(i: int) -> dict[str, Any]:
    return {
        "event_id": f"fb-{os.getpid()}-{i}", "event_type": "card_payment", "occurred_at": "2026-11-22T10:00:00Z",
        "card_id": f"card-{i % 500:07d}", "merchant_id": "mer-000245", "mcc": "5691", "amount": 80.0 + i % 7,
        "currency": "BRL", "country": "BR", "channel": "pos" if i % 3 == 0 else "ecommerce",
    }  # fmt: skip


async def _traffic(url: str, rate: float, seconds: float, t0: float) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer fb"}, limits=limits) as c:

        async def one(i: int, intended: float) -> None:
            try:
                r = await c.post("/v1/decide", json=_event(i), timeout=5)
                body = r.json() if r.status_code == 200 else {}
                status = r.status_code
            except httpx.HTTPError as e:
                body, status = {}, type(e).__name__
            lat_ms = (time.monotonic() - intended) * 1000
            fields = {k: body.get(k) for k in ("event_id", "stage", "degraded", "degraded_reason", "latency_ms")}
            results.append({"t": intended - t0, "status": status, "lat_ms": lat_ms, **fields})

        tasks = []
        for i in range(int(rate * seconds)):
            intended = t0 + i / rate
            await asyncio.sleep(max(0.0, intended - time.monotonic()))
            tasks.append(asyncio.create_task(one(i, intended)))
        await asyncio.gather(*tasks)
    return results


def main() -> int:
    """Run the fault scenario and print the table."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=100)
    p.add_argument("--before", type=float, default=5)
    p.add_argument("--outage", type=float, default=5)
    p.add_argument("--after", type=float, default=5)
    a = p.parse_args()
    settings = Settings()
    demo = ensure_demo_data(settings.data_dir)
    ensure_model(settings, demo)
    work = Path(tempfile.mkdtemp(prefix="fraudgate-faults-"))
    server_redis = LocalRedis(work / "redis", persist=True).start()
    ensure_profiles(server_redis.url, demo)
    port = free_port()
    env = {**os.environ, "FRAUDGATE_REDIS_URL": server_redis.url, "FRAUDGATE_PORT": str(port),
           "FRAUDGATE_API_KEYS": "fb:fb:decide", "FRAUDGATE_DATA_DIR": str(work),
           "FRAUDGATE_MODEL_DIR": str(settings.model_dir)}  # fmt: skip
    server = subprocess.Popen([str(ROOT / ".venv/bin/fraudgate"), "serve"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, server)
    total = a.before + a.outage + a.after

    async def scenario() -> list[dict[str, Any]]:
        t0 = time.monotonic() + 0.2
        traffic = asyncio.create_task(_traffic(url, a.rate, total, t0))
        await asyncio.sleep(a.before + 0.2)
        server_redis.stop()
        print(f"redis stopped at {time.monotonic() - t0:.1f} s", flush=True)
        await asyncio.sleep(a.outage)
        server_redis.start()
        print(f"redis started at {time.monotonic() - t0:.1f} s", flush=True)
        return await traffic

    results = asyncio.run(scenario())
    time.sleep(1)
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    client = redis.Redis.from_url(server_redis.url)
    drain(client, work / "etl", once=True, progress=False)
    client.close()
    logged = read_output(work / "etl")["event_id"].to_list()
    server_redis.stop()

    phases = (("before", 0, a.before), ("outage", a.before, a.before + a.outage), ("after", a.before + a.outage, total))
    print("\n| phase | requests | 200 | other | client p50 ms | client p99 ms | client max ms | engine p99 ms | "
          "engine max ms | model-path degraded | pre-policy degraded |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, lo, hi in phases:
        rows = [r for r in results if lo <= r["t"] < hi]
        ok = [r for r in rows if r["status"] == 200]
        lat = np.array([r["lat_ms"] for r in ok]) if ok else np.array([np.nan])
        model = [r for r in ok if r["stage"] != "pre_policy"]
        pre = [r for r in ok if r["stage"] == "pre_policy"]
        p50, p99 = np.percentile(lat, 50), np.percentile(lat, 99)
        engine = np.array([r["latency_ms"] for r in ok]) if ok else np.array([np.nan])
        deg_model = sum(bool(r["degraded"]) for r in model)
        deg_pre = sum(bool(r["degraded"]) for r in pre)
        print(f"| {name} | {len(rows)} | {len(ok)} | {len(rows) - len(ok)} | {p50:.2f} | {p99:.2f} | {lat.max():.2f} | "
              f"{np.percentile(engine, 99):.2f} | {engine.max():.2f} | "
              f"{deg_model}/{len(model)} | {deg_pre}/{len(pre)} |")  # fmt: skip
    print("\ndegraded reasons by phase (model path):")
    for name, lo, hi in phases:
        reasons: dict[str, int] = {}
        for r in results:
            if lo <= r["t"] < hi and r.get("degraded"):
                reasons[r["degraded_reason"]] = reasons.get(r["degraded_reason"], 0) + 1
        last = max((r["t"] for r in results if lo <= r["t"] < hi and r.get("degraded")), default=None)
        tail = f"; last degraded at {last:.2f} s" if last is not None else ""
        print(f"  {name}: {reasons or 'none'}{tail}")
    others: dict[str, int] = {}
    for r in results:
        if r["status"] != 200:
            others[str(r["status"])] = others.get(str(r["status"]), 0) + 1
    print(f"  answers other than 200: {others or 'none'}")
    returned = {r["event_id"] for r in results if r["status"] == 200}
    missing, unexpected = len(returned - set(logged)), len(set(logged) - returned)
    print(f"\nreturned {len(returned)} decisions; ETL output holds {len(logged)} rows, {len(set(logged))} distinct; "
          f"missing {missing}, unexpected {unexpected}")  # fmt: skip
    return 0 if returned == set(logged) and len(logged) == len(set(logged)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
