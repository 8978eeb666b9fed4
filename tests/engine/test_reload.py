"""Policies change on a running server without a restart: file watch and admin reload; shadow candidate policies."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import msgspec
import redis
from litestar.testing import TestClient

from engine.app import create_app
from engine.settings import Settings, parse_api_keys
from features import keys

SHIPPED = Path(__file__).resolve().parents[2] / "policies" / "card_payment.yaml"
HEADERS = {"Authorization": "Bearer t0ken"}
EVENT: dict[str, Any] = {
    "event_id": "r-1", "event_type": "card_payment", "occurred_at": "2026-11-22T10:00:00Z", "card_id": "card-1",
    "merchant_id": "mer-1", "mcc": "5411", "amount": 12.5, "currency": "BRL", "country": "BR", "channel": "pos",
}  # fmt: skip


def _settings(redis_url: str, model_dir: Path, tmp_path: Path, **extra: Any) -> Settings:
    (tmp_path / "policies").mkdir(exist_ok=True)
    (tmp_path / "policies" / "card_payment.yaml").write_text(SHIPPED.read_text())
    return Settings(
        redis_url=redis_url, api_keys=parse_api_keys("ops:t0ken:decide+admin"), model_dir=model_dir,
        data_dir=tmp_path, policy_dir=tmp_path / "policies", **extra,
    )  # fmt: skip


def _wait_for(predicate: Any, seconds: float = 10) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_file_watch_swaps_a_good_policy_and_keeps_serving_on_a_broken_one(
    redis_url: str, model_dir: Path, tmp_path: Path
) -> None:
    settings = _settings(redis_url, model_dir, tmp_path, policy_watch_s=0.05)
    path = settings.policy_dir / "card_payment.yaml"
    with TestClient(create_app(settings)) as c:
        first = c.post("/v1/decide", json=EVENT, headers=HEADERS).json()
        assert first["rule"] == "domestic_card_present_small"
        # analysts tighten the rule: 12.5 is no longer small enough
        path.write_text(path.read_text().replace("amount < 150", "amount < 10"))
        assert _wait_for(lambda: c.post("/v1/decide", json=EVENT, headers=HEADERS).json()["policy_version"]
                         != first["policy_version"])  # fmt: skip
        second = c.post("/v1/decide", json=EVENT, headers=HEADERS).json()
        assert second["stage"] == "model"
        # a broken edit is refused whole; the running version stays
        path.write_text(path.read_text().replace("amount < 10", "amount < 'ten'"))
        assert _wait_for(lambda: "fraudgate_policy_reload_refused_total 1.0" in c.get("/metrics").text)
        third = c.post("/v1/decide", json=EVENT, headers=HEADERS).json()
        assert third["policy_version"] == second["policy_version"] and third["stage"] == "model"
        r = c.post("/v1/admin/reload", headers=HEADERS)
        assert r.status_code == 422
        assert r.json()["detail"].startswith(f"refused, still serving the running versions: {path}:")
        assert f'fraudgate_policy_info{{version="{second["policy_version"]}"}} 1.0' in c.get("/metrics").text


def test_shadow_candidate_policy_is_logged_and_counted_never_acting(
    redis_url: str, model_dir: Path, tmp_path: Path
) -> None:
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(SHIPPED.read_text().replace("amount < 150", "amount < 10"))
    settings = _settings(redis_url, model_dir, tmp_path, shadow_policy=candidate, policy_watch_s=0)
    with TestClient(create_app(settings)) as c:
        d = c.post("/v1/decide", json=EVENT, headers=HEADERS).json()
        metrics = c.get("/metrics").text
    assert (d["stage"], d["rule"]) == ("pre_policy", "domestic_card_present_small")  # the served policy acted
    assert 'fraudgate_shadow_policy_decisions_total{action="None",agrees="none"} 1.0' in metrics
    r = redis.Redis.from_url(redis_url)
    assert _wait_for(lambda: r.xlen(keys.DECISION_STREAM) == 1)
    record = json.loads(r.xrange(keys.DECISION_STREAM)[0][1][b"d"])
    r.close()
    shadow = record["shadow_policy"]
    assert shadow["stage"] == "model" and shadow["action"] is None  # the candidate would have sent it to the model
    assert shadow["version"] != d["policy_version"]
    assert msgspec.json.decode(json.dumps(shadow["shadow"])) == []
