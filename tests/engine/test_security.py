"""Auth hardening on a real Redis: key rotation from a watched file, per-key rate limits with 429 + Retry-After,
the in-process fallback when Redis is away, scopes on every guarded route."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis
from litestar.testing import TestClient

from engine.app import create_app
from engine.auth import Authenticator, KeyFileWatcher, parse_key_file
from engine.context import Context
from engine.errors import ConfigError, NotAuthenticated
from engine.ratelimit import RateLimiter, TooManyRequests
from engine.settings import Settings, parse_api_keys


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_client(settings: Settings) -> TestClient[Any]:
    return TestClient(create_app(settings, Context.build(settings)))


@pytest.fixture
def base(redis_url: str, model_dir: Path, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=redis_url,
        api_keys=parse_api_keys("env:envsecret:decide"),
        model_dir=model_dir,
        data_dir=tmp_path,
        policy_watch_s=0,
    )


def test_key_file_parses_hashes_and_secrets_and_refuses_with_file_and_line() -> None:
    keys = parse_key_file(f"# comment\n\na:sha256:{sha('x')}:decide\nb:y:decide+admin\n", "keys.txt")
    assert [(k.name, k.scopes) for k in keys] == [("a", {"decide"}), ("b", {"decide", "admin"})]
    assert keys[0].secret_sha256 == hashlib.sha256(b"x").digest()
    with pytest.raises(ConfigError, match=r"^keys.txt:2: must read"):
        parse_key_file("a:x:decide\nbroken\n", "keys.txt")
    with pytest.raises(ConfigError, match=r"keys.txt:1: `a`: the sha256 must be 64 hex digits"):
        parse_key_file("a:sha256:abc:decide", "keys.txt")
    with pytest.raises(ConfigError, match=r"unknown scope \['root'\]"):
        parse_key_file("a:x:root", "keys.txt")
    with pytest.raises(ConfigError, match="appears twice"):
        parse_key_file("a:x:decide\na:y:decide", "keys.txt")
    with pytest.raises(ConfigError) as refused:
        parse_key_file("a:topsecretvalue:decide:extra", "keys.txt")
    assert "topsecretvalue" not in refused.value.detail  # a refusal never echoes a secret


def test_settings_read_the_new_variables_and_fail_fast(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("a:x:decide\n")
    s = Settings.from_env(
        {"FRAUDGATE_API_KEYS_FILE": str(keys), "FRAUDGATE_RATE_LIMIT": "2.5", "FRAUDGATE_WORKERS": "2"}
    )
    assert (s.api_keys_file, s.rate_limit, s.workers) == (keys, 2.5, 2)
    with pytest.raises(ConfigError, match=r"FRAUDGATE_API_KEYS_FILE names .* not a readable file"):
        Settings.from_env({"FRAUDGATE_API_KEYS_FILE": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="FRAUDGATE_RATE_LIMIT must be a number"):
        Settings.from_env({"FRAUDGATE_RATE_LIMIT": "fast"})
    with pytest.raises(ConfigError, match="FRAUDGATE_WORKERS must be between 1 and 64"):
        Settings.from_env({"FRAUDGATE_WORKERS": "0"})


def test_keys_rotate_without_restart(base: Settings, tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text(f"old:sha256:{sha('old-secret')}:decide\n")
    settings = Settings(**{**_fields(base), "api_keys_file": keys, "api_keys_watch_s": 0.05})
    with make_client(settings) as c:
        assert c.get("/v1/admin/versions", headers={"Authorization": "Bearer old-secret"}).status_code == 403
        assert c.post("/v1/decide", content=b"{}", headers={"Authorization": "Bearer old-secret"}).status_code == 422
        # rotate: a new key with admin, the old one gone; a fresh mtime even on coarse clocks
        keys.write_text(f"new:sha256:{sha('new-secret')}:decide+admin\n")
        os.utime(keys, ns=(1, 10**18))
        _eventually(lambda: c.get("/v1/admin/versions", headers={"Authorization": "Bearer new-secret"}).status_code)
        assert c.post("/v1/decide", content=b"{}", headers={"Authorization": "Bearer old-secret"}).status_code == 401
        # a broken file is refused whole: the keys served stay
        keys.write_text("garbage\n")
        os.utime(keys, ns=(1, 10**18 + 1))
        time.sleep(0.3)
        assert c.get("/v1/admin/versions", headers={"Authorization": "Bearer new-secret"}).status_code == 200
        # the environment's key is served beside the file's all along
        assert c.post("/v1/decide", content=b"{}", headers={"Authorization": "Bearer envsecret"}).status_code == 422


def test_watcher_poll_and_broken_file_at_start(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("a:x:decide\n")
    auth = Authenticator(())
    watcher = KeyFileWatcher(keys, auth, 1.0)
    watcher.load()
    assert auth.names == ("a",)
    assert watcher.poll() is False  # unchanged
    keys.write_text("b:y:decide\n")
    os.utime(keys, ns=(1, 10**18))
    assert watcher.poll() is True and auth.names == ("b",)
    with pytest.raises(NotAuthenticated):
        auth.check("Bearer x", "decide")
    keys.write_text("nope")
    with pytest.raises(ConfigError):
        KeyFileWatcher(keys, Authenticator(()), 1.0).load()


def test_rate_limit_429_with_retry_after_on_real_redis(base: Settings) -> None:
    settings = Settings(**{**_fields(base), "rate_limit": 3.0})
    with make_client(settings) as c:
        h = {"Authorization": "Bearer envsecret"}
        codes = [c.post("/v1/decide", content=b"{}", headers=h) for _ in range(8)]
        statuses = [r.status_code for r in codes]
        assert 429 in statuses and statuses.count(422) >= 3, statuses
        refused = next(r for r in codes if r.status_code == 429)
        assert 1 <= int(refused.headers["retry-after"]) <= 1
        assert "`env` is over its limit" in refused.json()["detail"]
        assert c.app.state.ratelimiter.fallbacks == 0  # Redis counted every one
        assert 'fraudgate_rate_limited_total{key="env"}' in c.get("/metrics").text
        # an unknown key is refused before it costs anything: 401, not 429
        assert c.post("/v1/decide", content=b"{}", headers={"Authorization": "Bearer zz"}).status_code == 401


def test_rate_limit_is_off_by_default(base: Settings) -> None:
    with make_client(base) as c:
        h = {"Authorization": "Bearer envsecret"}
        assert {c.post("/v1/decide", content=b"{}", headers=h).status_code for _ in range(20)} == {422}
        assert not hasattr(c.app.state, "ratelimiter")


def test_limiter_shares_the_window_in_redis_and_falls_back_when_it_is_away(redis_url: str) -> None:
    async def scenario() -> None:
        now = [1000.2]
        client = aredis.Redis.from_url(redis_url)
        a = RateLimiter(client, rate=2, clock=lambda: now[0], redis_timeout_s=0.5)
        b = RateLimiter(client, rate=2, clock=lambda: now[0], redis_timeout_s=0.5)  # another worker
        await a.check("k")
        await b.check("k")
        with pytest.raises(TooManyRequests) as e:
            await a.check("k")
        assert e.value.retry_after_s == 1
        await a.check("other")  # keys are counted apart
        now[0] = 1001.0  # next window
        await b.check("k")
        await client.aclose()

        # Redis away (nothing listens there): the local bucket decides, and Redis is not asked again for a while
        gone = aredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.05)
        c = RateLimiter(gone, rate=2, burst=2, clock=lambda: now[0], redis_timeout_s=0.05, fallback_s=5)
        await c.check("k")
        await c.check("k")
        with pytest.raises(TooManyRequests):
            await c.check("k")
        assert c.fallbacks == 3
        now[0] += 0.5  # one token back
        await c.check("k")
        await gone.aclose()

    asyncio.run(scenario())


def test_every_guarded_route_enforces_its_scope(base: Settings) -> None:
    settings = Settings(**{**_fields(base), "api_keys": parse_api_keys("d:dd:decide,a:aa:admin")})
    app = create_app(settings, Context.build(settings))
    guarded = {
        (method, route.path): handler.guards
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        for method in handler.http_methods
    }
    open_routes = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
    with TestClient(app) as c:
        for (method, path), guards in guarded.items():
            if path.startswith("/schema") or (method, path) in open_routes or method in ("HEAD", "OPTIONS"):
                continue
            assert guards, f"{method} {path} has no guard"
            assert c.request(method, path).status_code == 401, path
            assert c.request(method, path, headers={"Authorization": "Bearer wrong"}).status_code == 401, path
            scope = "admin" if "/admin/" in path else "decide"
            other = "Bearer dd" if scope == "admin" else "Bearer aa"
            assert c.request(method, path, headers={"Authorization": other}).status_code == 403, path


def _fields(s: Settings) -> dict[str, Any]:
    return {f: getattr(s, f) for f in s.__struct_fields__}


def _eventually(status: Any, want: int = 200, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status() == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"status never became {want}")
