"""The engine's resources, built from settings at start-up and closed at shutdown (owned by the app's lifespan)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from engine.auth import Authenticator
from engine.breaker import CircuitBreaker
from engine.carddata import PanKeys
from engine.errors import ConfigError
from engine.metrics import Metrics
from engine.pipeline import DecisionEngine, Loaded
from engine.policy import load_policy
from engine.settings import Settings
from engine.sink import DecisionSink
from engine.spill import SpillFile
from features.card_payment import CARD_PAYMENT
from features.derived import schema_of
from features.executor import FeatureExecutor
from features.specs import FeatureSet
from features.updates import VelocityUpdater
from models import Bundle, load_bundle
from rules import FieldType

log = logging.getLogger(__name__)


def event_schema() -> dict[str, FieldType]:
    """Fields a pre-policy may use: the event's own."""
    full = schema_of(CARD_PAYMENT)
    return {name: full[name] for name in CARD_PAYMENT.event_fields}


def current_model_path(model_dir: Path) -> Path | None:
    """The served bundle: the version named by `<model_dir>/CURRENT`, or None when there is none."""
    current = model_dir / "CURRENT"
    if not current.exists():
        return None
    return model_dir / current.read_text().strip()


def load_parts(settings: Settings) -> Loaded:
    """Policy and model, checked; a broken policy or bundle raises ConfigError and changes nothing."""
    policy = load_policy(settings.policy_dir / "card_payment.yaml", event_schema())
    bundle: Bundle | None = None
    path = current_model_path(settings.model_dir)
    if path is not None:
        try:
            bundle = load_bundle(path)
        except Exception as e:
            raise ConfigError(f"model bundle {path}: {e}") from e
    else:
        log.warning("no model in %s: survivors of the pre-policies get the fallback decision", settings.model_dir)
    return Loaded(policy=policy, bundle=bundle)


def redis_client(url: str) -> aredis.Redis:
    """A client for the request path: short timeouts and no retries (the deadline, not redis-py, decides)."""
    return aredis.Redis.from_url(
        url,
        socket_timeout=1.0,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        max_connections=64,
        health_check_interval=0,
    )


@dataclass
class Context:
    """Everything a request handler reaches through `app.state.ctx`."""

    settings: Settings
    redis: aredis.Redis
    engine: DecisionEngine
    auth: Authenticator
    metrics: Metrics
    pan_keys: PanKeys

    @classmethod
    def build(cls, settings: Settings, feature_set: FeatureSet = CARD_PAYMENT) -> Context:
        """Wire the parts (nothing is connected until first use)."""
        metrics = Metrics()
        client = redis_client(settings.redis_url)
        executor = FeatureExecutor(feature_set, client)
        breaker = CircuitBreaker(client.ping, metrics.redis_circuit, on_recover=client.connection_pool.disconnect)
        spill = SpillFile(settings.data_dir / "spill" / "decisions.jsonl")
        sink = DecisionSink(client, VelocityUpdater(feature_set, client), metrics, spill, breaker)
        engine = DecisionEngine(load_parts(settings), executor, sink, metrics, breaker)
        return cls(settings, client, engine, Authenticator(settings.api_keys), metrics, PanKeys(settings.pan_keys))

    def reload(self) -> Loaded:
        """Reload policy and model; on any error the running versions stay."""
        self.engine.loaded = load_parts(self.settings)
        return self.engine.loaded

    async def start(self) -> None:
        """Open a few Redis connections ahead of traffic (a first request must not pay for them), start the sink."""
        try:
            async with asyncio.timeout(2.0):
                await asyncio.gather(*(self.redis.ping() for _ in range(8)))
        except Exception as e:
            log.warning("redis not reachable at start-up (%s); requests will degrade until it is", type(e).__name__)
        self.engine.sink.start()

    async def close(self) -> None:
        """Flush the decision log and close Redis."""
        await self.engine.sink.close()
        await self.engine.breaker.close()
        await self.redis.aclose()
