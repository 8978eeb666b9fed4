"""Champion and challenger on a live app; promotion and rollback without a restart."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from litestar.testing import TestClient

from engine.app import create_app
from engine.settings import Settings, parse_api_keys
from engine.training import train_card_payment
from features import keys
from models import TrainConfig
from models.registry import Registry

HEADERS = {"Authorization": "Bearer t0ken"}
EVENT: dict[str, Any] = {
    "event_id": "m-1", "event_type": "card_payment", "occurred_at": "2026-11-22T10:00:00Z", "card_id": "card-1",
    "merchant_id": "mer-1", "mcc": "5732", "amount": 900.0, "currency": "BRL", "country": "BR", "channel": "ecommerce",
}  # fmt: skip


@pytest.fixture(scope="module")
def two_models(small_data: Any, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A registry holding the session's model and a second one trained after it (now champion)."""
    registry = tmp_path_factory.mktemp("registry")
    shutil.copytree(model_dir, registry, dirs_exist_ok=True)
    first = Registry(registry).current
    assert first is not None
    second = train_card_payment(
        small_data[0], registry, config=TrainConfig(num_trees=20, min_data_in_leaf=30, seed=3), progress=False,
        version="second",
    ).name  # fmt: skip
    return registry, first, second


def test_challenger_scores_in_shadow_and_promotion_swaps_without_restart(
    redis_url: str, two_models: tuple[Path, str, str], tmp_path: Path
) -> None:
    registry, first, second = two_models
    Registry(registry).set_challenger(first)
    settings = Settings(redis_url=redis_url, api_keys=parse_api_keys("ops:t0ken:decide+admin"), model_dir=registry,
                        data_dir=tmp_path, policy_watch_s=0)  # fmt: skip
    with TestClient(create_app(settings)) as c:
        d = c.post("/v1/decide", json=EVENT, headers=HEADERS).json()
        assert (d["stage"], d["model_version"]) == ("model", second)
        assert "fraudgate_challenger_decisions_total" in c.get("/metrics").text
        # roll back with the CLI's library, reload through the admin endpoint: no restart, no failed request
        Registry(registry).rollback()
        assert c.post("/v1/admin/reload", headers=HEADERS).status_code == 200
        d2 = c.post("/v1/decide", json={**EVENT, "event_id": "m-2"}, headers=HEADERS).json()
        assert d2["model_version"] == first
    r = redis.Redis.from_url(redis_url)
    end = time.monotonic() + 5
    while r.xlen(keys.DECISION_STREAM) < 2 and time.monotonic() < end:
        time.sleep(0.02)
    record = json.loads(r.xrange(keys.DECISION_STREAM, count=1)[0][1][b"d"])
    r.close()
    ch = record["challenger"]
    assert ch["version"] == first and 0 <= ch["score"] <= 1 and ch["action"] in {"approve", "review", "deny"}
    assert record["decision"]["model_version"] == second


def test_compare_report_from_the_decision_log(
    redis_url: str, two_models: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.cli import main
    from engine.etl import drain

    registry, first, _ = two_models
    if Registry(registry).current != first:
        Registry(registry).set_challenger(first)
    settings = Settings(redis_url=redis_url, api_keys=parse_api_keys("ops:t0ken:decide+admin"), model_dir=registry,
                        data_dir=tmp_path, policy_watch_s=0)  # fmt: skip
    with TestClient(create_app(settings)) as c:
        for i in range(20):
            event = {**EVENT, "event_id": f"c-{i}", "amount": 50.0 + 97 * i}
            assert c.post("/v1/decide", json=event, headers=HEADERS).status_code == 200
    client = redis.Redis.from_url(redis_url)
    drain(client, tmp_path / "etl", once=True, progress=False)
    client.close()
    html = tmp_path / "compare.html"
    assert main(["models", "compare", "--etl", str(tmp_path / "etl"), "--html", str(html)]) == 0
    summary = json.loads(capsys.readouterr().out.split("report:")[0])
    assert summary["compared"] == 20 and 0 <= summary["agreement"] <= 1
    assert "<img" in html.read_text()


def test_admin_promote_rollback_and_challenger_routes(
    redis_url: str, two_models: tuple[Path, str, str], tmp_path: Path
) -> None:
    registry, first, second = two_models
    Registry(registry).promote(second)
    settings = Settings(redis_url=redis_url, api_keys=parse_api_keys("ops:t0ken:decide+admin,p:s3:decide"),
                        model_dir=registry, data_dir=tmp_path, policy_watch_s=0)  # fmt: skip
    with TestClient(create_app(settings)) as c:
        assert c.post("/v1/admin/models/rollback", headers={"Authorization": "Bearer s3"}).status_code == 403
        r = c.post("/v1/admin/models/promote", json={"version": first}, headers=HEADERS)
        assert r.status_code == 200 and r.json()["model_version"] == first
        assert c.post("/v1/decide", json=EVENT, headers=HEADERS).json()["model_version"] == first
        r = c.post("/v1/admin/models/rollback", headers=HEADERS)
        assert r.status_code == 200 and r.json()["model_version"] == second
        r = c.post("/v1/admin/models/challenger", json={"version": first}, headers=HEADERS)
        assert r.json() == {"model_version": second, "challenger_version": first}
        r = c.post("/v1/admin/models/promote", json={"version": "nope"}, headers=HEADERS)
        assert r.status_code == 409 and "nope" in r.json()["detail"]
        r = c.post("/v1/admin/models/challenger", json={"version": None}, headers=HEADERS)
        assert r.json()["challenger_version"] is None


def test_drift_report_from_the_decision_log(
    redis_url: str, two_models: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.cli import main
    from engine.etl import drain

    registry, _, _ = two_models
    current = Registry(registry).current
    settings = Settings(redis_url=redis_url, api_keys=parse_api_keys("ops:t0ken:decide"), model_dir=registry,
                        data_dir=tmp_path, policy_watch_s=0)  # fmt: skip
    with TestClient(create_app(settings)) as c:
        for i in range(30):
            event = {**EVENT, "event_id": f"d-{i}", "amount": 50.0 + 61 * i}
            assert c.post("/v1/decide", json=event, headers=HEADERS).status_code == 200
    client = redis.Redis.from_url(redis_url)
    drain(client, tmp_path / "etl", once=True, progress=False)
    client.close()
    html = tmp_path / "drift.html"
    args = ["models", "drift", "--etl", str(tmp_path / "etl"), "--models", str(registry), "--html", str(html)]
    assert main(args) == 0
    out = capsys.readouterr().out
    row = next(line.split() for line in out.splitlines() if current is not None and current in line)
    assert int(row[2]) == 30 and float(row[3]) > 0  # 30 scored decisions of one day; their PSI, read and named
    assert row[4] in {"stable", "worth", "moved"}
    assert "<img" in html.read_text() and current in html.read_text()
