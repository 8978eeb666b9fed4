"""Tests that attack the API: a corpus of malformed requests, a fuzz target for the request decoder, and
schemathesis against the OpenAPI document (no 5xx, responses conform, auth cannot be skipped)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from litestar.testing import TestClient
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from engine.app import create_app
from engine.carddata import PanKeys
from engine.context import Context
from engine.errors import FraudgateError
from engine.routes import decode_event
from engine.settings import Settings, parse_api_keys
from features.card_payment import CARD_PAYMENT
from features.specs import with_timeouts

AUTH = {"Authorization": "Bearer s3cret"}
EVENT: dict[str, Any] = {
    "event_id": "evt-1", "event_type": "card_payment", "occurred_at": "2026-11-22T10:00:00Z", "card_id": "card-123",
    "customer_id": "cus-9", "merchant_id": "mer-7", "mcc": "5411", "amount": 12.5, "currency": "BRL",
    "country": "BR", "channel": "ecommerce", "device_id": "dev-1", "ip": "203.0.113.7",
}  # fmt: skip


def _settings(redis_url: str, model_dir: Path, tmp_path: Path) -> Settings:
    return Settings(
        redis_url=redis_url,
        api_keys=parse_api_keys("payments:s3cret:decide,ops:t0ken:decide+admin"),
        model_dir=model_dir,
        data_dir=tmp_path,
        policy_watch_s=0,
        pan_keys="v1:0123456789abcdef0123",
    )


def _context(settings: Settings) -> Context:
    ctx = Context.build(settings, with_timeouts(CARD_PAYMENT, 2_000))
    ctx.engine.loaded = msgspec.structs.replace(
        ctx.engine.loaded, policy=msgspec.structs.replace(ctx.engine.loaded.policy, sla_ms=5_000)
    )
    return ctx


@pytest.fixture
def client(redis_url: str, model_dir: Path, tmp_path: Path) -> Iterator[TestClient[Any]]:
    settings = _settings(redis_url, model_dir, tmp_path)
    with TestClient(create_app(settings, _context(settings))) as c:
        yield c


def _with(**changes: Any) -> bytes:
    event = {**EVENT, **changes}
    return json.dumps({k: v for k, v in event.items() if v is not ...}).encode()


DEEP = b"[" * 5000 + b"]" * 5000
CORPUS: list[tuple[str, bytes, int, str]] = [
    ("bad json", b'{"event_id": ', 422, "body is not valid JSON"),
    ("empty body", b"", 422, "body is not valid JSON"),
    ("array instead of object", b"[1, 2]", 422, "Expected `object`, got `array`"),
    ("string instead of object", b'"evt"', 422, "Expected `object`, got `str`"),
    ("wrong type", _with(amount="12.5"), 422, "Expected `float`, got `str` - at `$.amount`"),
    ("wrong nested type", _with(mcc=5411), 422, "Expected `str`, got `int` - at `$.mcc`"),
    ("NaN", _with(amount=1).replace(b'"amount": 1', b'"amount": NaN'), 422, "body is not valid JSON"),
    ("Infinity", _with(amount=1).replace(b'"amount": 1', b'"amount": Infinity'), 422, "body is not valid JSON"),
    ("overflowing number", _with(amount=1).replace(b'"amount": 1', b'"amount": 1e999'), 422, "at `$.amount`"),
    ("negative amount", _with(amount=-1), 422, "Expected `float` >= 0.0 - at `$.amount`"),
    ("deep nesting in a field", _with(event_id=1).replace(b'"event_id": 1', b'"event_id": ' + DEEP), 422, "$.event_id"),
    ("deep nesting", DEEP, 422, "Expected `object`, got `array`"),
    ("huge string", _with(event_id="e" * 20_000), 422, "Expected `str` of length <= 128 - at `$.event_id`"),
    ("huge body", _with(event_id="e" * 70_000), 413, "body over 65536 bytes"),
    ("missing field", _with(amount=...), 422, "Object missing required field `amount`"),
    ("unknown event type", _with(event_type="wire_transfer"), 422, "at `$.event_type`"),
    ("unknown field", _with(ammount=3), 422, "Object contains unknown field `ammount`"),
    ("null required field", _with(card_id=None), 422, "Expected `str`, got `null` - at `$.card_id`"),
    ("cvv", _with(cvv="123"), 422, "`cvv` is card authentication data"),
    ("bad pan", _with(pan="4111111111111112"), 422, "`pan` fails the Luhn check - at `$.pan`"),
    ("bad date", _with(occurred_at="yesterday"), 422, "at `$.occurred_at`"),
    ("naive date", _with(occurred_at="2026-11-22T10:00:00"), 422, "at `$.occurred_at`"),
    ("bad utf-8", b'{"event_id": "\xff\xfe"}', 422, "body is not valid JSON"),
]


@pytest.mark.parametrize(("body", "status", "names"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_malformed_requests_get_a_4xx_that_names_the_problem(
    client: TestClient[Any], body: bytes, status: int, names: str
) -> None:
    r = client.post("/v1/decide", content=body, headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert names in detail
    assert "Traceback" not in r.text and "4111111111111112" not in r.text
    assert client.get("/healthz").status_code == 200  # and the server keeps serving


def test_malformed_batches_and_transport_mistakes(client: TestClient[Any]) -> None:
    post = client.post
    h = {**AUTH, "content-type": "application/json"}
    r = post("/v1/decide/batch", content=b'{"events": {}}', headers=h)
    assert r.status_code == 422 and "Expected `array`, got `object` - at `$.events`" in r.json()["detail"]
    r = post("/v1/decide/batch", content=b'{"events": []}', headers=h)
    assert r.status_code == 422 and "length >= 1 - at `$.events`" in r.json()["detail"]
    r = post("/v1/decide/batch", content=b'{"events": [' + DEEP + b"]}", headers=h)
    assert r.status_code == 422 and "nests too deeply" in r.json()["detail"]
    r = post("/v1/decide/batch", content=json.dumps({"events": [EVENT] * 501}).encode(), headers=h)
    assert r.status_code == 422 and "at most 500 per batch" in r.json()["detail"]
    r = post("/v1/decide/batch", content=json.dumps({"events": [EVENT, [1], {"amount": "x"}]}).encode(), headers=h)
    assert r.status_code == 200
    entries = r.json()["decisions"]
    assert entries[0]["event_id"] == "evt-1" and "action" in entries[0]
    assert "Expected `object`, got `array` - at `$.events[1]`" in entries[1]["error"]
    assert entries[2]["status"] == 422
    assert post("/v1/decide", content=_with(), headers={**AUTH, "content-type": "text/plain"}).status_code == 415
    assert client.get("/v1/decide", headers=AUTH).status_code == 405
    assert client.put("/v1/decide/batch", headers=AUTH).status_code == 405
    assert client.get("/nope").status_code == 404
    assert post("/v1/decide", content=_with(), headers=h).status_code == 200  # still serving


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
FIELDS = st.sampled_from([*sorted(EVENT), "pan", "cvv", "pan_token", "x"])
EVENTISH = st.dictionaries(FIELDS, JSON_VALUES, max_size=8).map(lambda d: {**EVENT, **d})

_PAN_KEYS = PanKeys("v1:0123456789abcdef0123")


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300) | JSON_VALUES.map(lambda v: json.dumps(v).encode()) | EVENTISH.map(
    lambda v: json.dumps(v).encode()
))  # fmt: skip
def test_decoder_fuzz_only_client_errors(raw: bytes) -> None:
    """The request decoder, on arbitrary bytes and JSON: an event, or an error that maps to a 4xx."""
    error: FraudgateError | None = None
    try:
        event = decode_event(raw, _PAN_KEYS)
    except FraudgateError as e:
        error = e
    if error is not None:
        assert 400 <= error.status_code < 500
        assert "Traceback" not in error.detail
    else:
        assert event.pan is None  # a raw PAN never gets past decoding


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200) | EVENTISH.map(lambda v: json.dumps(v).encode()), batch=st.booleans())
def test_http_fuzz_never_5xx(client: TestClient[Any], body: bytes, batch: bool) -> None:
    path = "/v1/decide/batch" if batch else "/v1/decide"
    if batch and body[:1] == b"{":
        body = b'{"events": [' + body + b"]}"
    r = client.post(path, content=body, headers={**AUTH, "content-type": "application/json"})
    assert r.status_code < 500, r.text


# ---- schemathesis against the app's own OpenAPI document --------------------------------------------------------


# schemathesis' own pytest integration (`from_fixture`) does not run on pytest 9 yet (it reads a removed private
# attribute of the test node), so the operations are driven here through their hypothesis strategies.


def _contract(operation: Any, key: str) -> Any:
    @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        # a schema-valid body may still be refused on purpose (a `pan` failing the Luhn check): 422 is right there
        case.call_and_validate(headers={"Authorization": key}, excluded_checks=[positive_data_acceptance])

    return check


def test_openapi_contract(redis_url: str, model_dir: Path, tmp_path: Path) -> None:
    """Every operation of the document: no 5xx, responses match the document, auth cannot be skipped."""
    settings_ = _settings(redis_url, model_dir, tmp_path)
    app = create_app(settings_, _context(settings_))
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    tested = []
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            _contract(operation, "Bearer t0ken" if "/admin/" in operation.path else "Bearer s3cret")()
            tested.append(f"{operation.method.upper()} {operation.path}")
    finally:
        schemathesis_asgi.shutdown_lifespans()  # the lifespan schemathesis started: close Redis, flush the log
    assert {"POST /v1/decide", "POST /v1/decide/batch", "GET /v1/admin/versions"} <= set(tested)


def test_openapi_documents_the_decide_bodies_and_auth(client: TestClient[Any]) -> None:
    doc = client.get("/schema/openapi.json").json()
    decide = doc["paths"]["/v1/decide"]["post"]
    assert decide["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CardPayment"
    }
    assert decide["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Decision")
    assert {"401", "403", "413", "415", "422", "429"} <= set(decide["responses"])
    assert decide["security"] == [{"bearer": []}]
    batch = doc["paths"]["/v1/decide/batch"]["post"]
    assert batch["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/BatchRequest")
    card = doc["components"]["schemas"]["CardPayment"]
    strings = [p for p in card["properties"].values() if p.get("type") == "string" and "format" not in p]
    assert strings and all("maxLength" in p or "enum" in p for p in strings)
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
