"""HTTP routes. Handlers stay thin: authenticate, decode, call the engine, encode.

The decide routes read the raw body and decode it with msgspec (exact error text, speed), so Litestar cannot see
their body types: `documented(...)` declares them, and the responses, for the OpenAPI document; the schemas
themselves are msgspec's own (`api_components`), so the document says exactly what the decoder accepts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

import msgspec
from litestar import HttpMethod, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.handlers import HTTPRouteHandler
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, Reference, RequestBody

from engine.carddata import PanKeys, explain_refusal, luhn_ok
from engine.context import Context
from engine.deadline import Deadline
from engine.errors import BadRequest, FraudgateError, NotReady
from engine.ratelimit import RateLimiter, TooManyRequests
from engine.routes_models import VersionBody, admin_routes
from engine.schemas import BatchRequest, BatchResponse, CardPayment, Decision, ErrorBody, ItemError

JSON = "application/json"
BUDGET_HEADER = "x-fraudgate-budget-ms"
"""A caller may ask for a tighter budget than the policy's `sla_ms` (never a looser one)."""

TOO_DEEP = "body is not valid JSON: it nests too deeply"
NOT_UTF8 = "body is not valid JSON: a string is not UTF-8"
"""msgspec raises RecursionError, not DecodeError, past its nesting limit: a client's mistake all the same."""

_event_decoder = msgspec.json.Decoder(CardPayment)
_batch_decoder = msgspec.json.Decoder(BatchRequest)
_encoder = msgspec.json.Encoder()


def ctx_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Context:
    """The engine context the lifespan put on the app."""
    ctx: Context = connection.app.state.ctx
    return ctx


KEY_NAME = "fraudgate_key"
"""Where the guard leaves the caller's key name in the ASGI scope (for the access log)."""

SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]
"""OpenAPI security requirement of the guarded routes (scheme declared in `engine.app`)."""


async def authorize(connection: ASGIConnection[Any, Any, Any, Any], scope: str) -> None:
    """The caller's key must carry `scope` (401/403) and be within its rate limit (429)."""
    ctx = ctx_of(connection)
    name = ctx.auth.check(connection.headers.get("authorization"), scope)
    connection.scope[KEY_NAME] = name  # type: ignore[literal-required]
    limiter: RateLimiter | None = getattr(connection.app.state, "ratelimiter", None)
    if limiter is not None:
        try:
            await limiter.check(name)
        except TooManyRequests:
            ctx.metrics.rate_limited.labels(name).inc()
            raise


def _scope_guard(scope: str) -> Any:
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        await authorize(connection, scope)

    return guard


def _ref(name: str) -> Reference:
    return Reference(ref=f"#/components/schemas/{name}")


def documented(body: str | None = None, ok: str | None = None, errors: tuple[int, ...] = ()) -> type[Operation]:
    """An OpenAPI operation class that declares the request body `body`, the 200 response `ok` (component names of
    `api_components()`) and the error statuses `errors` with the error body."""

    @dataclass
    class Documented(Operation):
        def __post_init__(self) -> None:
            if body is not None:
                self.request_body = RequestBody(
                    content={JSON: OpenAPIMediaType(schema=_ref(body))}, required=True, description=f"one `{body}`"
                )
            responses = dict(self.responses or {})
            if ok is not None:
                responses["200"] = OpenAPIResponse(description="OK", content={JSON: OpenAPIMediaType(schema=_ref(ok))})
            for code in errors:
                responses[str(code)] = OpenAPIResponse(
                    description=HTTPStatus(code).phrase, content={JSON: OpenAPIMediaType(schema=_ref("ErrorBody"))}
                )
            self.responses = responses

    return Documented


def api_components() -> dict[str, Any]:
    """The msgspec JSON schemas of the public types, as OpenAPI components."""
    _, components = msgspec.json.schema_components(
        [CardPayment, BatchRequest, Decision, ItemError, ErrorBody, VersionBody],
        ref_template="#/components/schemas/{name}",
    )
    # msgspec cannot describe the untagged union of BatchResponse (it encodes it, never decodes it): by hand
    components["BatchResponse"] = {
        "title": "BatchResponse",
        "description": BatchResponse.__doc__,
        "type": "object",
        "properties": {
            "decisions": {
                "type": "array",
                "items": {"anyOf": [{"$ref": _ref("Decision").ref}, {"$ref": _ref("ItemError").ref}]},
            }
        },
        "required": ["decisions"],
        "additionalProperties": False,
    }
    return components


AUTH_ERRORS = (401, 403, 429)
DECIDE_ERRORS = (*AUTH_ERRORS, 400, 413, 415, 422, 503)


def _deadline(request: Request[Any, Any, Any], sla_ms: float) -> Deadline:
    asked = request.headers.get(BUDGET_HEADER)
    if asked is None:
        return Deadline(sla_ms)
    try:
        budget = float(asked)
    except ValueError:
        raise BadRequest(f"header `{BUDGET_HEADER}` must be a number of milliseconds, got {asked!r}") from None
    if not budget > 0:
        raise BadRequest(f"header `{BUDGET_HEADER}` must be positive, got {asked!r}")
    return Deadline(min(budget, sla_ms))


def _check_json(request: Request[Any, Any, Any]) -> None:
    ctype = request.headers.get("content-type", JSON)
    if ctype.split(";")[0].strip().lower() not in (JSON, "application/*+json"):
        raise UnsupportedMediaType(f"content-type must be {JSON}, got {ctype!r}")


class PayloadTooLarge(FraudgateError):
    """The body is over the route's limit."""

    status_code = 413


class UnsupportedMediaType(FraudgateError):
    """The body is not JSON."""

    status_code = 415


T = TypeVar("T")


def _decode(decoder: msgspec.json.Decoder[T], raw: bytes) -> T:
    """Decode a body with `decoder`; every way it can fail is a 422 naming the field or the problem, never a 500."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as e:
        raise explain_refusal(e) from None
    except msgspec.DecodeError as e:
        raise BadRequest(f"body is not valid JSON: {e}") from None
    except RecursionError:
        raise BadRequest(TOO_DEEP) from None
    except UnicodeDecodeError:
        raise BadRequest(NOT_UTF8) from None


def decode_event(raw: bytes, pan_keys: PanKeys) -> CardPayment:
    """Decode one event, tokenizing a raw PAN; the error names the field (`... - at $.amount`), never a value."""
    event = _decode(_event_decoder, raw)
    return tokenize(event, pan_keys) if event.pan is not None else event


def tokenize(event: CardPayment, pan_keys: PanKeys) -> CardPayment:
    """The event with its raw `pan` replaced by token, first 6 and last 4."""
    pan = event.pan
    assert pan is not None  # checked by the caller
    if not luhn_ok(pan):
        raise BadRequest("`pan` fails the Luhn check - at `$.pan`")
    if not pan_keys.enabled:
        raise BadRequest("`pan` is not accepted here (no tokenization key is configured): send `pan_token`")
    return msgspec.structs.replace(
        event, pan=None, pan_token=pan_keys.token(pan), pan_first6=pan[:6], pan_last4=pan[-4:]
    )


class HotPost(HTTPRouteHandler):
    """Route handler of the hot routes. Litestar hands each guard a `copy()` of the route handler on every request
    (a defensive copy: a guard could mutate it); ours never do, and the copy was a visible share of a pre-policy
    decision's CPU (docs/benchmarks/speed.md). Same guards, same order, same OpenAPI document."""

    async def authorize_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        """Run the guards with the handler itself."""
        for guard in self.resolve_guards():
            await guard(connection, self)  # type: ignore[misc]


@HotPost(
    "/v1/decide",
    http_method=HttpMethod.POST,
    guards=[_scope_guard("decide")],
    status_code=200,
    security=SECURITY,
    operation_class=documented("CardPayment", "Decision", DECIDE_ERRORS),
)
async def decide(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Decide one `card_payment` event."""
    _check_json(request)
    ctx = ctx_of(request)
    deadline = _deadline(request, ctx.engine.loaded.policy.sla_ms)
    body = await request.body()
    if len(body) > ctx.settings.max_body_bytes:
        raise PayloadTooLarge(f"body over {ctx.settings.max_body_bytes} bytes; send several events to /v1/decide/batch")
    event = decode_event(body, ctx.pan_keys)
    (decision,) = await ctx.engine.decide([event], deadline)
    return Response(_encoder.encode(decision), media_type=JSON, headers={"Server-Timing": deadline.server_timing()})


@HotPost(
    "/v1/decide/batch",
    http_method=HttpMethod.POST,
    guards=[_scope_guard("decide")],
    status_code=200,
    security=SECURITY,
    operation_class=documented("BatchRequest", "BatchResponse", DECIDE_ERRORS),
)
async def decide_batch(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Decide n events: n entries out, same order; a bad event gets its own error entry."""
    _check_json(request)
    ctx = ctx_of(request)
    deadline = _deadline(request, ctx.engine.loaded.policy.sla_ms)
    batch = _decode(_batch_decoder, await request.body())
    if len(batch.events) > ctx.settings.max_batch:
        raise BadRequest(f"events: at most {ctx.settings.max_batch} per batch, got {len(batch.events)} - at `$.events`")
    entries: list[Decision | ItemError | None] = [None] * len(batch.events)
    good: list[tuple[int, CardPayment]] = []
    for i, raw in enumerate(batch.events):
        try:
            good.append((i, decode_event(raw, ctx.pan_keys)))
        except BadRequest as e:
            # the path msgspec reports is relative to the event: make it point into the batch
            where = f"`$.events[{i}]`"
            detail = e.detail.replace("`$", where[:-1]) if "`$" in e.detail else f"{e.detail} - at {where}"
            entries[i] = ItemError(error=detail, status=422, index=i, event_id=_event_id_of(raw))
    if good:
        decided = await ctx.engine.decide([e for _, e in good], deadline)
        for (i, _), d in zip(good, decided, strict=True):
            entries[i] = d
    response = BatchResponse(decisions=[e for e in entries if e is not None])
    return Response(_encoder.encode(response), media_type=JSON, headers={"Server-Timing": deadline.server_timing()})


def _event_id_of(raw: msgspec.Raw) -> str | None:
    try:
        value = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return None
    event_id = value.get("event_id") if isinstance(value, dict) else None
    return event_id if isinstance(event_id, str) and len(event_id) <= 128 else None


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@get("/readyz", operation_class=documented(errors=(503,)))
async def readyz(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Policies and model loaded, Redis reachable; 503 otherwise."""
    ctx = ctx_of(request)
    loaded = ctx.engine.loaded
    try:
        async with asyncio.timeout(0.25):
            await ctx.redis.ping()
    except Exception as e:
        raise NotReady(f"redis unreachable: {type(e).__name__}") from None
    if loaded.bundle is None:
        raise NotReady("no model loaded")
    return {"status": "ready", "policy_version": loaded.policy.version, "model_version": loaded.bundle.manifest.version}


@get("/metrics", sync_to_thread=False, media_type="text/plain; version=0.0.4")
def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text format."""
    return Response(ctx_of(request).metrics.render(), media_type="text/plain; version=0.0.4")


@post(
    "/v1/admin/reload",
    guards=[_scope_guard("admin")],
    status_code=200,
    sync_to_thread=False,
    security=SECURITY,
    operation_class=documented(errors=(*AUTH_ERRORS, 422)),
)
def reload(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Reload policy and model from disk; a broken file is refused (422, `file:line: rule: problem`) and the running
    versions stay."""
    loaded = ctx_of(request).reload()
    return {
        "policy_version": loaded.policy.version,
        "model_version": loaded.bundle.manifest.version if loaded.bundle else None,
    }


@get(
    "/v1/admin/versions",
    guards=[_scope_guard("admin")],
    sync_to_thread=False,
    security=SECURITY,
    operation_class=documented(errors=AUTH_ERRORS),
)
def versions(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The loaded policy and model versions."""
    loaded = ctx_of(request).engine.loaded
    return {
        "policy_version": loaded.policy.version,
        "sla_ms": loaded.policy.sla_ms,
        "model_version": loaded.bundle.manifest.version if loaded.bundle else None,
    }


ROUTES = [
    decide,
    decide_batch,
    healthz,
    readyz,
    metrics,
    reload,
    versions,
    *admin_routes(_scope_guard("admin"), SECURITY, documented, AUTH_ERRORS),
]
