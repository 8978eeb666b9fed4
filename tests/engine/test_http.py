"""End to end through HTTP, on a real Redis, with a real (small) model."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
import pytest
import redis
from litestar.testing import TestClient

from engine.app import create_app
from engine.context import Context
from engine.etl import drain, read_output
from engine.settings import Settings, parse_api_keys
from features import keys
from features.card_payment import CARD_PAYMENT
from features.loader import load_profiles
from features.specs import with_timeouts

DECIDE = {"Authorization": "Bearer s3cret"}
ADMIN = {"Authorization": "Bearer t0ken"}
CONTRACT = {
    "event_id", "action", "stage", "rule", "score", "calibrated", "ecdf", "reasons", "missing_features", "degraded",
    "degraded_reason", "shadow_hits", "policy_version", "model_version", "latency_ms",
}  # fmt: skip

EVENT: dict[str, Any] = {
    "event_id": "evt-1",
    "event_type": "card_payment",
    "occurred_at": "2026-11-22T10:00:00Z",
    "card_id": "card-123",
    "customer_id": "cus-9",
    "merchant_id": "mer-7",
    "mcc": "5411",
    "amount": 12.5,
    "currency": "BRL",
    "country": "BR",
    "channel": "ecommerce",
    "device_id": "dev-1",
    "ip": "203.0.113.7",
}


def _settings(redis_url: str, model_dir: Path, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=redis_url,
        api_keys=parse_api_keys("payments:s3cret:decide,ops:t0ken:decide+admin"),
        model_dir=model_dir,
        data_dir=tmp_path,
    )


@pytest.fixture
def client(
    redis_url: str, model_dir: Path, tmp_path: Path, profiles: dict[str, pl.DataFrame]
) -> Iterator[TestClient[Any]]:
    """The app on the session's Redis with the small model; generous lookup timeouts (shared, noisy machine)."""
    r = redis.Redis.from_url(redis_url)
    load_profiles(r, CARD_PAYMENT, profiles, snapshot="test", progress=False)
    r.close()
    settings = _settings(redis_url, model_dir, tmp_path)
    ctx = Context.build(settings, with_timeouts(CARD_PAYMENT, 2_000))
    ctx.engine.loaded = msgspec.structs.replace(
        ctx.engine.loaded, policy=msgspec.structs.replace(ctx.engine.loaded.policy, sla_ms=5_000)
    )
    with TestClient(create_app(settings, ctx)) as c:
        yield c


def _events(small_data: Any, n: int) -> list[dict[str, Any]]:
    frame = small_data[1].events.head(n).drop("is_fraud", "typology")
    rows = frame.to_dicts()
    for row in rows:
        row["occurred_at"] = row["occurred_at"].isoformat()
        for k in ("customer_id", "device_id", "ip"):
            if row[k] is None:
                del row[k]
    return rows


def test_pre_policy_event_is_decided_without_model(client: TestClient[Any]) -> None:
    r = client.post("/v1/decide", json={**EVENT, "channel": "pos"}, headers=DECIDE)
    assert r.status_code == 200, r.text
    d = r.json()
    assert set(d) == CONTRACT
    assert (d["action"], d["stage"], d["rule"]) == ("approve", "pre_policy", "domestic_card_present_small")
    assert d["score"] is None and d["ecdf"] is None and d["reasons"] == []
    assert d["model_version"] is not None
    assert re.fullmatch(r"([^+]+\+)?[0-9a-f]{12}", d["policy_version"])  # optional version: + content digest
    assert r.headers["server-timing"].startswith("pre_policy;dur=")


def test_model_event_gets_scores_reasons_and_timings(client: TestClient[Any]) -> None:
    r = client.post("/v1/decide", json={**EVENT, "amount": 20000.0}, headers=DECIDE)
    assert r.status_code == 200, r.text
    d = r.json()
    assert set(d) == CONTRACT
    assert d["stage"] == "model" and d["action"] in {"approve", "review", "deny"}
    assert d["rule"] in {"top_risk", "high_risk", "low_risk"}
    assert 0 <= d["score"] <= 1 and 0 <= d["calibrated"] <= 1 and 0 <= d["ecdf"] <= 1
    # reasons are computed for the decisions people look at: review and deny
    assert len(d["reasons"]) == (0 if d["action"] == "approve" else 3)
    assert all(set(x) == {"feature", "contribution"} for x in d["reasons"])
    assert d["shadow_hits"] == ["try_big_ticket"]  # the shadow rule matched, counted, did not act
    assert d["degraded"] is False and d["degraded_reason"] is None
    stages = [part.split(";")[0] for part in r.headers["server-timing"].split(", ")]
    assert stages == ["pre_policy", "features", "model", "total"]


def test_thousand_generated_events_split_between_pre_policy_and_model(client: TestClient[Any], small_data: Any) -> None:
    events = _events(small_data, 1_000)
    decisions: list[dict[str, Any]] = []
    for start in range(0, 1_000, 250):
        r = client.post("/v1/decide/batch", json={"events": events[start : start + 250]}, headers=DECIDE)
        assert r.status_code == 200, r.text
        decisions += r.json()["decisions"]
    assert [d["event_id"] for d in decisions] == [e["event_id"] for e in events]  # n in, n out, same order
    assert all(set(d) == CONTRACT for d in decisions)
    stages = [d["stage"] for d in decisions]
    pre = stages.count("pre_policy")
    assert 500 <= pre <= 950, pre  # the demo policy filters a realistic share
    assert stages.count("model") == 1_000 - pre
    assert not any(d["degraded"] for d in decisions)


def test_velocity_and_log_are_written_after_the_response(client: TestClient[Any], redis_url: str) -> None:
    for i in range(3):
        r = client.post("/v1/decide", json={**EVENT, "event_id": f"v-{i}", "channel": "pos"}, headers=DECIDE)
        assert r.status_code == 200
    # a retried event is not counted twice
    client.post("/v1/decide", json={**EVENT, "event_id": "v-2", "channel": "pos"}, headers=DECIDE)
    r = redis.Redis.from_url(redis_url)
    key = keys.velocity_key("card", "card-123", 60)
    deadline = time.monotonic() + 5
    while r.xlen(keys.DECISION_STREAM) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    counts = {k.decode(): int(v) for k, v in r.hgetall(key).items() if k.startswith(b"c")}
    assert sum(counts.values()) == 3
    assert r.xlen(keys.DECISION_STREAM) == 4  # every decision returned is logged, the retry too
    _, fields = r.xrange(keys.DECISION_STREAM, count=1)[0]
    record = json.loads(fields[b"d"])
    assert set(record) == {"event", "features", "decision", "timings_ms", "decided_at", "shadow_policy", "challenger"}
    assert record["decision"]["event_id"] == "v-0" and record["event"]["card_id"] == "card-123"
    r.close()
    # the fourth event (after 3 counted) sees them in its features
    d = client.post("/v1/decide", json={**EVENT, "event_id": "v-9", "amount": 999.0}, headers=DECIDE).json()
    assert d["stage"] == "model"
    stream = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + 5
    while stream.xlen(keys.DECISION_STREAM) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    last = json.loads(stream.xrevrange(keys.DECISION_STREAM, count=1)[0][1][b"d"])
    assert last["features"]["card_cnt_10m"] == 3 and last["features"]["card_sum_10m"] == 37.5
    stream.close()


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({**EVENT, "amount": "abc"}, "Expected `float`, got `str` - at `$.amount`"),
        ({**EVENT, "amount": -1}, "Expected `float` >= 0.0 - at `$.amount`"),
        ({**EVENT, "ammount": 1}, "Object contains unknown field `ammount`"),
        ({k: v for k, v in EVENT.items() if k != "card_id"}, "Object missing required field `card_id`"),
        ({**EVENT, "mcc": "54"}, "Expected `str` matching regex '^[0-9]{4}$' - at `$.mcc`"),
        ({**EVENT, "channel": "fax"}, "Invalid enum value 'fax' - at `$.channel`"),
        (
            {**EVENT, "occurred_at": "2026-11-22T10:00:00"},
            "Expected `datetime` with a timezone component - at `$.occurred_at`",
        ),
    ],
)  # fmt: skip
def test_bad_events_get_422_naming_the_field(client: TestClient[Any], body: dict[str, Any], detail: str) -> None:
    r = client.post("/v1/decide", json=body, headers=DECIDE)
    assert r.status_code == 422
    assert r.json()["detail"] == detail


def test_http_errors(client: TestClient[Any]) -> None:
    assert client.post("/v1/decide", json=EVENT).status_code == 401
    assert client.post("/v1/decide", json=EVENT, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/v1/admin/reload", headers=DECIDE).status_code == 403
    assert client.post("/v1/admin/reload", headers=ADMIN).status_code == 200
    r = client.post("/v1/decide", content=b"{not json", headers={**DECIDE, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].startswith("body is not valid JSON")
    r = client.post("/v1/decide", content=b"x" * 100_000, headers={**DECIDE, "Content-Type": "application/json"})
    assert r.status_code == 413
    r = client.post("/v1/decide", content=json.dumps(EVENT), headers={**DECIDE, "Content-Type": "text/plain"})
    assert r.status_code == 415
    assert client.get("/v1/decide", headers=DECIDE).status_code == 405
    r = client.post("/v1/decide", json=EVENT, headers={**DECIDE, "X-Fraudgate-Budget-Ms": "soon"})
    assert r.status_code == 422 and "x-fraudgate-budget-ms" in r.json()["detail"]


def test_batch_bad_item_gets_its_own_error(client: TestClient[Any]) -> None:
    events = [{**EVENT, "event_id": "a", "channel": "pos"}, {**EVENT, "event_id": "b", "amount": "x"}, EVENT]
    r = client.post("/v1/decide/batch", json={"events": events}, headers=DECIDE)
    assert r.status_code == 200
    out = r.json()["decisions"]
    assert [o.get("event_id") for o in out] == ["a", "b", "evt-1"]
    assert out[1] == {"error": "Expected `float`, got `str` - at `$.events[1].amount`", "status": 422, "index": 1,
                      "event_id": "b"}  # fmt: skip
    assert out[0]["stage"] == "pre_policy" and out[2]["stage"] == "model"
    assert client.post("/v1/decide/batch", json={"events": []}, headers=DECIDE).status_code == 422


def test_probes_metrics_and_openapi(client: TestClient[Any]) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["model_version"]
    client.post("/v1/decide", json={**EVENT, "channel": "pos"}, headers=DECIDE)
    text = client.get("/metrics").text
    assert 'fraudgate_decisions_total{action="approve",stage="pre_policy"} 1.0' in text
    assert 'fraudgate_rule_hits_total{mode="live",rule="domestic_card_present_small"} 1.0' in text
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert {"/v1/decide", "/v1/decide/batch", "/healthz", "/readyz", "/metrics"} <= set(paths)


def test_redis_down_degrades_but_decides(model_dir: Path, tmp_path: Path) -> None:
    """No Redis at all: pre-policies still decide, the model scores on defaults, answers say degraded, nothing lost."""
    from engine.redis_server import free_port

    settings = _settings(f"redis://127.0.0.1:{free_port()}/0", model_dir, tmp_path)
    with TestClient(create_app(settings)) as c:
        pre = c.post("/v1/decide", json={**EVENT, "channel": "pos"}, headers=DECIDE).json()
        scored = c.post("/v1/decide", json=EVENT, headers=DECIDE).json()
        assert c.get("/readyz").status_code == 503
    assert pre["stage"] == "pre_policy" and pre["degraded"] is False
    assert scored["degraded"] is True and scored["degraded_reason"] == "redis_error"
    assert "card_age_days" in scored["missing_features"]
    spill = (tmp_path / "spill" / "decisions.jsonl").read_bytes().splitlines()
    assert [json.loads(line)["decision"]["event_id"] for line in spill] == ["evt-1", "evt-1"]


def test_budget_exhausted_falls_back_and_says_so(client: TestClient[Any]) -> None:
    """A budget too small for any lookup: the policy's fallback decides and the answer says degraded."""
    r = client.post("/v1/decide", json=EVENT, headers={**DECIDE, "X-Fraudgate-Budget-Ms": "0.001"})
    d = r.json()
    assert (d["stage"], d["action"], d["degraded"]) == ("fallback", "review", True)
    assert d["degraded_reason"] == "deadline" and d["score"] is None
    assert "card_cnt_10m" in d["missing_features"]


def test_review_decisions_carry_reasons(
    redis_url: str, model_dir: Path, tmp_path: Path, profiles: dict[str, pl.DataFrame]
) -> None:
    """With a threshold table that reviews everything, each scored decision names its top three contributions."""
    policy = Path("policies/card_payment.yaml").read_text()
    policy = policy.replace('"ecdf >= 0.999"', '"score >= 0"').replace("sla_ms: 50", "sla_ms: 5000")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "card_payment.yaml").write_text(policy)
    settings = msgspec.structs.replace(_settings(redis_url, model_dir, tmp_path), policy_dir=tmp_path / "policies")
    ctx = Context.build(settings, with_timeouts(CARD_PAYMENT, 2_000))
    with TestClient(create_app(settings, ctx)) as c:
        d = c.post("/v1/decide", json=EVENT, headers=DECIDE).json()
    assert (d["action"], d["rule"]) == ("deny", "top_risk")
    assert len(d["reasons"]) == 3
    assert {r["feature"] for r in d["reasons"]} <= set(ctx.engine.loaded.bundle.scorer.feature_names)  # type: ignore[union-attr]
    contributions = [abs(r["contribution"]) for r in d["reasons"]]
    assert contributions == sorted(contributions, reverse=True)


def test_card_data_is_refused_or_tokenized(client: TestClient[Any], redis_url: str) -> None:
    for field in ("cvv", "track2", "pin_block"):
        r = client.post("/v1/decide", json={**EVENT, field: "123"}, headers=DECIDE)
        assert r.status_code == 422
        assert r.json()["detail"] == f"`{field}` is card authentication data: it must never be sent (PCI DSS 3.2)"
    pan = "4111111111111111"
    r = client.post("/v1/decide", json={**EVENT, "pan": "4111111111111112"}, headers=DECIDE)
    assert r.status_code == 422 and r.json()["detail"] == "`pan` fails the Luhn check - at `$.pan`"
    assert "411111111111111" not in r.text
    # no key configured in this app: a valid PAN is refused, not stored
    r = client.post("/v1/decide", json={**EVENT, "pan": pan}, headers=DECIDE)
    assert r.status_code == 422 and pan not in r.text


def test_pan_is_tokenized_before_anything_sees_it(
    redis_url: str, model_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A raw PAN becomes token + first6/last4 at the edge; no Luhn-valid number in Redis, metrics, bodies or logs."""
    from engine.carddata import luhn_ok

    settings = msgspec.structs.replace(_settings(redis_url, model_dir, tmp_path), pan_keys="k1:0123456789abcdef0123")
    pans = ["4111111111111111", "5500005555555559", "340000000000009"]
    bodies = []
    with TestClient(create_app(settings)) as c:
        for i, pan in enumerate(pans):
            r = c.post("/v1/decide", json={**EVENT, "event_id": f"p-{i}", "pan": pan}, headers=DECIDE)
            assert r.status_code == 200
            bodies.append(r.text)
            bad = c.post("/v1/decide", json={**EVENT, "pan": pan, "amount": "x"}, headers=DECIDE)
            assert bad.status_code == 422
            bodies.append(bad.text)
        bodies.append(c.get("/metrics").text)
    r = redis.Redis.from_url(redis_url)
    stored = [k.decode() for k in r.keys("*")]
    for key in r.keys("*"):
        kind = r.type(key).decode()
        if kind == "hash":
            stored += [f"{k!r}{v!r}" for k, v in r.hgetall(key).items()]
        elif kind == "stream":
            stored += [repr(f) for _, f in r.xrange(key)]
        elif kind == "zset":
            stored += [repr(m) for m in r.zrange(key, 0, -1)]
    record = json.loads(r.xrange(keys.DECISION_STREAM, count=1)[0][1][b"d"])
    drain(r, tmp_path / "etl", once=True, progress=False)
    r.close()
    stored.append(str(read_output(tmp_path / "etl").to_dicts()))  # the ETL's Parquet output too
    assert record["event"]["pan_first6"] == "411111" and record["event"]["pan_last4"] == "1111"
    assert record["event"]["pan_token"].startswith("k1:") and "pan" not in record["event"]
    out, err = capfd.readouterr()
    haystack = "\n".join([*bodies, *stored, out, err])
    # digit runs that are not decimals' fractions nor stream ids (`<ms>-<seq>`)
    found = [m for m in re.findall(r"(?<![\d.])\d{12,19}(?![\d.]|-\d)", haystack) if luhn_ok(m)]
    assert all(p in haystack for p in ("411111", "1111"))  # first6/last4 are there, as they may be
    assert found == [], [haystack[max(0, haystack.find(m) - 60) : haystack.find(m) + 30] for m in found]


def test_score_drift_gauge_moves_with_live_scores(client: TestClient[Any]) -> None:
    """Every 100 scores the PSI of live scores against the training ECDF is exported."""
    events = [{**EVENT, "event_id": f"d-{i}", "amount": 20.0 + i} for i in range(100)]
    r = client.post("/v1/decide/batch", json={"events": events}, headers=DECIDE)
    assert r.status_code == 200 and all(d["stage"] == "model" for d in r.json()["decisions"])
    psi = [line for line in client.get("/metrics").text.splitlines() if line.startswith("fraudgate_score_psi ")]
    assert len(psi) == 1 and float(psi[0].split()[1]) > 0  # one card, rising amounts: far from the training mix
