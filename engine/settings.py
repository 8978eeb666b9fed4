"""Settings, read from the environment once, typed, failing fast.

Nothing else in the project reads `os.environ`: the CLI builds a `Settings` with `Settings.from_env()` and hands it
down. Every field says which variable sets it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

from engine.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
"""The repository root: policies/ and var/ are found from here unless the environment says otherwise."""


class ApiKey(msgspec.Struct, frozen=True):
    """One bearer key: a name for logs and metrics, the sha256 of its secret, and its scopes."""

    name: str
    """Who holds the key (appears in logs and metrics instead of the secret)."""
    secret_sha256: bytes
    """sha256 of the secret; the secret itself is not kept."""
    scopes: frozenset[str]
    """Granted scopes: `decide`, `admin`."""


SCOPES = frozenset({"decide", "admin"})


def parse_api_keys(spec: str) -> tuple[ApiKey, ...]:
    """Parse `FRAUDGATE_API_KEYS`: comma-separated `name:secret:scope[+scope]` entries.

    >>> [k.name for k in parse_api_keys("payments:s3cret:decide,ops:t0ken:decide+admin")]
    ['payments', 'ops']
    """
    import hashlib

    keys: list[ApiKey] = []
    for n, entry in enumerate(filter(None, (e.strip() for e in spec.split(","))), start=1):
        parts = entry.split(":")
        if len(parts) != 3 or not all(parts):
            raise ConfigError(
                f"FRAUDGATE_API_KEYS entry {n} must read `name:secret:scope[+scope]`, e.g. `payments:s3cret:decide`"
            )
        name, secret, scope_spec = parts
        scopes = frozenset(scope_spec.split("+"))
        unknown = scopes - SCOPES
        if unknown:
            raise ConfigError(
                f"FRAUDGATE_API_KEYS entry {n} (`{name}`): unknown scope {sorted(unknown)}; use {sorted(SCOPES)}"
            )
        keys.append(ApiKey(name, hashlib.sha256(secret.encode()).digest(), scopes))
    return tuple(keys)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the engine needs from its environment."""

    redis_url: str = "redis://127.0.0.1:6390/0"
    """`FRAUDGATE_REDIS_URL`: the Redis that holds profiles, velocity and the decision log."""
    host: str = "127.0.0.1"
    """`FRAUDGATE_HOST`: address to listen on."""
    port: int = 8000
    """`FRAUDGATE_PORT`: port to listen on."""
    api_keys: tuple[ApiKey, ...] = ()
    """`FRAUDGATE_API_KEYS`: `name:secret:scope[+scope]`, comma-separated. Empty means nobody can call."""
    policy_dir: Path = ROOT / "policies"
    """`FRAUDGATE_POLICY_DIR`: folder of `<event_type>.yaml` policy files."""
    model_dir: Path = ROOT / "var" / "models" / "card_payment"
    """`FRAUDGATE_MODEL_DIR`: registry folder of model bundles; its `CURRENT` file names the served version."""
    data_dir: Path = ROOT / "var"
    """`FRAUDGATE_DATA_DIR`: demo data, the local Redis's files, spill files."""
    max_body_bytes: int = 64 * 1024
    """`FRAUDGATE_MAX_BODY_BYTES`: request bodies over this get a 413."""
    max_batch_body_bytes: int = 2 * 1024 * 1024
    """`FRAUDGATE_MAX_BATCH_BODY_BYTES`: the same limit for `/v1/decide/batch`."""
    pan_keys: str = ""
    """`FRAUDGATE_PAN_KEYS`: `version:secret` HMAC keys for card-number tokens, comma-separated, the last one current.
    Without one, a raw `pan` is refused. A secret: never logged."""
    shadow_policy: Path | None = None
    """`FRAUDGATE_SHADOW_POLICY`: a candidate policy file evaluated on live traffic beside the served one, logged and
    counted, never acting."""
    policy_watch_s: float = 1.0
    """`FRAUDGATE_POLICY_WATCH_S`: how often each worker checks the policy file for a new version (0: never)."""
    tls_cert: Path | None = None
    """`FRAUDGATE_TLS_CERT`: PEM certificate (chain); with `FRAUDGATE_TLS_KEY`, the server speaks HTTPS only."""
    tls_key: Path | None = None
    """`FRAUDGATE_TLS_KEY`: PEM private key of the certificate."""
    max_batch: int = 500
    """`FRAUDGATE_MAX_BATCH`: most events in one `/v1/decide/batch` call."""
    api_keys_file: Path | None = None
    """`FRAUDGATE_API_KEYS_FILE`: a file of `name:sha256:<hex>:scopes` (or `name:secret:scopes`) lines, re-read when
    it changes, so keys rotate without a restart; its keys are served beside those of `FRAUDGATE_API_KEYS`."""
    api_keys_watch_s: float = 1.0
    """`FRAUDGATE_API_KEYS_WATCH_S`: how often each worker checks the key file for changes."""
    rate_limit: float = 0.0
    """`FRAUDGATE_RATE_LIMIT`: requests per second allowed per API key (0: no limit); over it, 429 + Retry-After."""
    rate_burst: int = 0
    """`FRAUDGATE_RATE_BURST`: requests a key may send at once in the in-process fallback (0: one second's worth)."""
    workers: int = 1
    """`FRAUDGATE_WORKERS`: uvicorn worker processes; with more than one, metrics use prometheus_client's multiprocess
    mode (in `PROMETHEUS_MULTIPROC_DIR`, or a fresh folder under the data dir)."""
    metrics_dir: Path | None = None
    """`PROMETHEUS_MULTIPROC_DIR`: prometheus_client's folder for the metrics of several worker processes."""
    access_log: bool = False
    """`FRAUDGATE_ACCESS_LOG`: one JSON log line per request (`1`/`true`); off by default to keep the hot path lean."""
    log_level: str = "INFO"
    """`FRAUDGATE_LOG_LEVEL`: level of the JSON logs (`DEBUG`, `INFO`, `WARNING`, `ERROR`)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings once; a malformed variable fails here, naming the variable."""
        env = os.environ if environ is None else environ
        kwargs: dict[str, object] = {}
        text = {"FRAUDGATE_REDIS_URL": "redis_url", "FRAUDGATE_HOST": "host", "FRAUDGATE_PAN_KEYS": "pan_keys"}
        for var, field in text.items():
            if env.get(var):
                kwargs[field] = env[var]
        numbers: dict[str, tuple[str, type[int] | type[float]]] = {
            "FRAUDGATE_PORT": ("port", int),
            "FRAUDGATE_MAX_BODY_BYTES": ("max_body_bytes", int),
            "FRAUDGATE_MAX_BATCH": ("max_batch", int),
            "FRAUDGATE_MAX_BATCH_BODY_BYTES": ("max_batch_body_bytes", int),
            "FRAUDGATE_RATE_BURST": ("rate_burst", int),
            "FRAUDGATE_WORKERS": ("workers", int),
            "FRAUDGATE_POLICY_WATCH_S": ("policy_watch_s", float),
            "FRAUDGATE_API_KEYS_WATCH_S": ("api_keys_watch_s", float),
            "FRAUDGATE_RATE_LIMIT": ("rate_limit", float),
        }
        for var, (field, cast) in numbers.items():
            if env.get(var):
                try:
                    value = cast(env[var])
                except ValueError:
                    kind = "an integer" if cast is int else "a number"
                    raise ConfigError(f"{var} must be {kind}, got {env[var]!r}") from None
                if cast is float and not value >= 0:  # seconds and rates: NaN and negatives refused
                    raise ConfigError(f"{var} must be >= 0, got {env[var]!r}")
                kwargs[field] = value
        paths = {
            "FRAUDGATE_POLICY_DIR": "policy_dir",
            "FRAUDGATE_MODEL_DIR": "model_dir",
            "FRAUDGATE_DATA_DIR": "data_dir",
            "FRAUDGATE_TLS_CERT": "tls_cert",
            "FRAUDGATE_TLS_KEY": "tls_key",
            "FRAUDGATE_SHADOW_POLICY": "shadow_policy",
            "FRAUDGATE_API_KEYS_FILE": "api_keys_file",
            "PROMETHEUS_MULTIPROC_DIR": "metrics_dir",
        }
        for var, field in paths.items():
            if env.get(var):
                kwargs[field] = Path(env[var])
        if env.get("FRAUDGATE_ACCESS_LOG"):
            kwargs["access_log"] = env["FRAUDGATE_ACCESS_LOG"].strip().lower() in ("1", "true", "yes", "on")
        if env.get("FRAUDGATE_LOG_LEVEL"):
            level = env["FRAUDGATE_LOG_LEVEL"].strip().upper()
            if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
                raise ConfigError(f"FRAUDGATE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
            kwargs["log_level"] = level
        if "workers" in kwargs and not 1 <= int(str(kwargs["workers"])) <= 64:
            raise ConfigError(f"FRAUDGATE_WORKERS must be between 1 and 64, got {kwargs['workers']}")
        if "api_keys_file" in kwargs and not Path(str(kwargs["api_keys_file"])).is_file():
            raise ConfigError(f"FRAUDGATE_API_KEYS_FILE names {kwargs['api_keys_file']}, which is not a readable file")
        if env.get("FRAUDGATE_API_KEYS"):
            kwargs["api_keys"] = parse_api_keys(env["FRAUDGATE_API_KEYS"])
        if ("tls_cert" in kwargs) != ("tls_key" in kwargs):
            raise ConfigError("FRAUDGATE_TLS_CERT and FRAUDGATE_TLS_KEY go together: set both or neither")
        for var, field in (("FRAUDGATE_TLS_CERT", "tls_cert"), ("FRAUDGATE_TLS_KEY", "tls_key")):
            if field in kwargs and not Path(str(kwargs[field])).is_file():
                raise ConfigError(f"{var} names {kwargs[field]}, which is not a readable file")
        if "redis_url" in kwargs and not str(kwargs["redis_url"]).startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("FRAUDGATE_REDIS_URL must start with redis://, rediss:// or unix://")
        return cls(**kwargs)  # type: ignore[arg-type]
