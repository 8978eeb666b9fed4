"""`fraudgate run`: everything `make run` promises, in order, then serve.

Starts a local Redis (data under var/) unless FRAUDGATE_REDIS_URL is set; generates the demo data and trains the
demo model on first run (seeded); loads the demo profiles when Redis does not have them; makes a demo key when
FRAUDGATE_API_KEYS is unset; prints a curl that works; serves. Ctrl-C stops it all, the Redis too.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import msgspec
import redis

from engine.redis_server import LocalRedis, port_is_free
from engine.settings import Settings, parse_api_keys
from engine.training import read_profiles, train_card_payment
from features.card_payment import CARD_PAYMENT
from features.loader import load_profiles, loaded_snapshot

DEMO_EVENTS = 200_000
DEMO_SEED = 7
LOCAL_REDIS_PORT = 6390

SAMPLE_EVENT = {
    "event_id": "evt-demo-1",
    "event_type": "card_payment",
    "occurred_at": "2026-11-22T10:00:00Z",
    "card_id": "card-0000319",
    "customer_id": "cus-0000837",
    "merchant_id": "mer-000245",
    "mcc": "5691",
    "amount": 812.5,
    "currency": "BRL",
    "country": "BR",
    "channel": "ecommerce",
    "device_id": "dev-5192107020",
    "ip": "100.88.203.167",
}


def say(msg: str) -> None:
    """Progress line for the person at the terminal."""
    print(f"fraudgate: {msg}", file=sys.stderr, flush=True)


def ensure_demo_data(data_dir: Path) -> Path:
    """The demo event log and profiles under `data_dir/demo`, generated once (seeded, deterministic)."""
    from loadtest.synthetic import SyntheticConfig, generate

    demo = data_dir / "demo"
    if (demo / "events.parquet").exists():
        return demo
    say(f"generating {DEMO_EVENTS:,} demo events (seed {DEMO_SEED}) into {demo}")
    generate(SyntheticConfig(n_events=DEMO_EVENTS, seed=DEMO_SEED), progress=True).write(demo)
    return demo


def ensure_model(settings: Settings, demo: Path) -> None:
    """Train the demo model unless a CURRENT bundle exists."""
    if (settings.model_dir / "CURRENT").exists():
        return
    say(f"training the demo model into {settings.model_dir}")
    path = train_card_payment(demo, settings.model_dir, progress=True)
    say(f"model {path.name} trained; report at {path / 'report.html'}")


def ensure_profiles(url: str, demo: Path) -> None:
    """Load the demo profiles unless this Redis already holds this snapshot."""
    snapshot = f"demo-{DEMO_SEED}-{DEMO_EVENTS}"
    client = redis.Redis.from_url(url)
    try:
        if loaded_snapshot(client, CARD_PAYMENT) == snapshot:
            return
        say("loading demo profiles into Redis")
        load_profiles(client, CARD_PAYMENT, read_profiles(demo), snapshot=snapshot)
    finally:
        client.close()


def curl_example(settings: Settings, secret: str) -> str:
    """A ready-to-paste request."""
    body = json.dumps(SAMPLE_EVENT)
    return (
        f"curl -s -X POST http://{settings.host}:{settings.port}/v1/decide \\\n"
        f"  -H 'Authorization: Bearer {secret}' -H 'Content-Type: application/json' \\\n"
        f"  -d '{body}'"
    )


def run(settings: Settings, *, redis_url_given: bool) -> int:
    """Set up and serve until interrupted."""
    from engine.serve import serve

    demo = ensure_demo_data(settings.data_dir)
    ensure_model(settings, demo)
    local: LocalRedis | None = None
    try:
        if not redis_url_given:
            port = LOCAL_REDIS_PORT if port_is_free(LOCAL_REDIS_PORT) else None
            local = LocalRedis(settings.data_dir / "redis", port).start()
            say(f"started redis-server on port {local.port} (data in {local.data_dir})")
            settings = msgspec.structs.replace(settings, redis_url=local.url)
        ensure_profiles(settings.redis_url, demo)
        secret = None
        if not settings.api_keys:
            secret = secrets.token_urlsafe(24)
            settings = msgspec.structs.replace(settings, api_keys=parse_api_keys(f"demo:{secret}:decide+admin"))
            say("FRAUDGATE_API_KEYS is unset: made a demo key with scopes decide+admin")
        print("\nfraudgate is serving. Try:\n", flush=True)
        print(curl_example(settings, secret or "<one of your FRAUDGATE_API_KEYS secrets>") + "\n", flush=True)
        serve(settings)
    finally:
        if local is not None:
            local.stop()
            say("stopped redis-server")
    return 0
