"""The engine's resources, built from settings at start-up and closed at shutdown (owned by the app's lifespan)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import msgspec
import redis.asyncio as aredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from engine.auth import Authenticator
from engine.breaker import CircuitBreaker
from engine.carddata import PanKeys
from engine.errors import ConfigError, ReloadRefused
from engine.metrics import Metrics
from engine.pipeline import DecisionEngine, Loaded
from engine.policy import Policy, load_policy
from engine.policy_watch import PolicyWatcher
from engine.settings import Settings
from engine.sink import DecisionSink
from engine.spill import SpillFile
from features.card_payment import CARD_PAYMENT
from features.derived import schema_of
from features.executor import FeatureExecutor
from features.specs import FeatureSet
from features.updates import VelocityUpdater
from models import Bundle, load_bundle
from models.registry import Registry
from rules import FieldType

log = logging.getLogger(__name__)


def event_schema() -> dict[str, FieldType]:
    """Fields a pre-policy may use: the event's own."""
    full = schema_of(CARD_PAYMENT)
    return {name: full[name] for name in CARD_PAYMENT.event_fields}


def current_model_path(model_dir: Path) -> Path | None:
    """The served bundle: the registry's CURRENT version, or None when there is none."""
    return Registry(model_dir).current_path()


def _load(path: Path | None, role: str) -> Bundle | None:
    if path is None:
        return None
    try:
        return load_bundle(path)
    except Exception as e:
        raise ConfigError(f"{role} model bundle {path}: {e}") from e


def policy_path(settings: Settings) -> Path:
    """The served policy file of `card_payment`."""
    return settings.policy_dir / "card_payment.yaml"


def load_parts(settings: Settings) -> Loaded:
    """Policy (and shadow candidate) and model, checked; a broken file raises ConfigError and changes nothing."""
    policy = load_policy(policy_path(settings), event_schema())
    candidate = load_policy(settings.shadow_policy, event_schema()) if settings.shadow_policy else None
    registry = Registry(settings.model_dir)
    bundle = _load(registry.current_path(), "champion")
    challenger = _load(registry.challenger_path(), "challenger")
    if bundle is None:
        log.warning("no model in %s: survivors of the pre-policies get the fallback decision", settings.model_dir)
    return Loaded(policy=policy, bundle=bundle, candidate=candidate, challenger=challenger)


def _version(loaded: Loaded) -> str | None:
    return loaded.bundle.manifest.version if loaded.bundle else None


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


async def drop_idle_connections(client: aredis.Redis) -> None:
    """The breaker's recovery step: close the idle pooled connections, which may lead to the Redis that went away.

    Connections in use are left to their holders, which check them before use (`features/transport.py`): closing
    them cut the sink's writes in flight and spilled them whenever an overloaded process had opened the breaker on
    a healthy Redis.
    """
    await client.connection_pool.disconnect(inuse_connections=False)


@dataclass
class Context:
    """Everything a request handler reaches through `app.state.ctx`."""

    settings: Settings
    redis: aredis.Redis
    engine: DecisionEngine
    auth: Authenticator
    metrics: Metrics
    pan_keys: PanKeys
    watcher: PolicyWatcher | None = None

    @classmethod
    def build(cls, settings: Settings, feature_set: FeatureSet = CARD_PAYMENT) -> Context:
        """Wire the parts (nothing is connected until first use)."""
        metrics = Metrics()
        client = redis_client(settings.redis_url)
        executor = FeatureExecutor(feature_set, client)
        breaker = CircuitBreaker(client.ping, metrics.redis_circuit, on_recover=lambda: drop_idle_connections(client))
        spill = SpillFile(settings.data_dir / "spill" / "decisions.jsonl")
        sink = DecisionSink(client, VelocityUpdater(feature_set, client), metrics, spill, breaker)
        engine = DecisionEngine(load_parts(settings), executor, sink, metrics, breaker)
        return cls(settings, client, engine, Authenticator(settings.api_keys), metrics, PanKeys(settings.pan_keys))

    def reload(self) -> Loaded:
        """Reload policy, candidate and model; a refused file raises ReloadRefused and the running versions stay."""
        try:
            loaded = load_parts(self.settings)
        except ConfigError as e:
            self.metrics.policy_refused.inc()
            raise ReloadRefused(f"refused, still serving the running versions: {e.detail}") from None
        self._serve(loaded)
        return loaded

    def _serve(self, loaded: Loaded) -> None:
        # one attribute assignment: a request sees the old parts or the new ones, never a mix
        self.engine.loaded = loaded
        self.metrics.versions(loaded.policy.version, loaded.bundle.manifest.version if loaded.bundle else None)

    def _policy_changed(self, policy: Policy) -> None:
        self._serve(msgspec.structs.replace(self.engine.loaded, policy=policy))
        log.warning("policy reloaded from %s: version %s", policy_path(self.settings), policy.version)

    def _policy_refused(self, message: str) -> None:
        self.metrics.policy_refused.inc()

    async def start(self) -> None:
        """Open a few Redis connections ahead of traffic (a first request must not pay for them), start the sink."""
        try:
            async with asyncio.timeout(2.0):
                await asyncio.gather(*(self.redis.ping() for _ in range(8)))
        except Exception as e:
            log.warning("redis not reachable at start-up (%s); requests will degrade until it is", type(e).__name__)
        self.engine.sink.start()
        self.metrics.versions(self.engine.loaded.policy.version, _version(self.engine.loaded))
        if self.settings.policy_watch_s > 0:
            # every worker process runs its own watcher, so every worker swaps to a new file by itself
            self.watcher = PolicyWatcher(
                policy_path(self.settings),
                event_schema(),
                on_change=self._policy_changed,
                on_error=self._policy_refused,
                interval_s=self.settings.policy_watch_s,
            )
            self.watcher.start()

    async def close(self) -> None:
        """Flush the decision log and close Redis."""
        if self.watcher is not None:
            await self.watcher.stop()
        await self.engine.sink.close()
        await self.engine.breaker.close()
        await self.redis.aclose()
