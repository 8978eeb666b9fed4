"""The app factory: `create_app(settings, context=None)` wires routes, errors and the lifespan that owns resources."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, MediaType, Request, Response
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from engine import heap
from engine.auth import KeyFileWatcher
from engine.context import Context
from engine.errors import FraudgateError
from engine.logs import REQUEST_ID_HEADER, request_id_from, request_id_var
from engine.metrics import MetricChildren, mark_process_dead
from engine.ratelimit import RateLimiter, TooManyRequests
from engine.routes import KEY_NAME, ROUTES, api_components
from engine.settings import Settings

log = logging.getLogger(__name__)
access = logging.getLogger("fraudgate.access")

_HEADER = REQUEST_ID_HEADER.encode()


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> Response[dict[str, Any]]:
    headers = dict(headers or {})
    if (request_id := request_id_var.get()) is not None:
        headers.setdefault(REQUEST_ID_HEADER, request_id)
    return Response(
        {"status_code": status, "detail": detail}, status_code=status, media_type=MediaType.JSON, headers=headers
    )


def _fraudgate_error(request: Request[Any, Any, Any], exc: FraudgateError) -> Response[dict[str, Any]]:
    if exc.status_code < 500 and hasattr(request.app.state, "ctx"):
        request.app.state.ctx.metrics.errors.labels(str(exc.status_code)).inc()
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, TooManyRequests) else None
    return _error(exc.status_code, exc.detail, headers)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    scope: dict[str, Any] = dict(request.scope)
    if "route_handler" not in scope and hasattr(request.app.state, "ctx"):
        # 404/405 never reach a route's middleware: count them here, under one bounded route label
        request.app.state.ctx.metrics.http_requests.labels("unmatched", request.method[:8], str(exc.status_code)).inc()
    return _error(exc.status_code, exc.detail, dict(exc.headers or {}))


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # a bug of ours: log it with its stack, answer without one
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return _error(500, "internal error")


class EdgeMiddleware(ASGIMiddleware):
    """Request id (from `X-Request-ID` or fresh) in the log context and the response header; HTTP metrics per route
    template; one access log line per request when `FRAUDGATE_ACCESS_LOG` is on."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, access_log: bool) -> None:
        self.access_log = access_log
        self._child = MetricChildren()

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Serve the request with its id set, then count it."""
        method = str(scope.get("method", ""))
        raw = next((v for k, v in scope["headers"] if k == _HEADER), None)
        request_id = request_id_from(raw.decode("latin-1") if raw is not None else None)
        token = request_id_var.set(request_id)
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (_HEADER, request_id.encode())]
            await send(message)

        try:
            await next_app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("path_template") or "unmatched"
            ctx: Context | None = getattr(scope["app"].state, "ctx", None)
            if ctx is not None:
                self._child(ctx.metrics.http_requests, route, method, str(status)).inc()
                self._child(ctx.metrics.http_latency, route).observe(elapsed)
            if self.access_log or status >= 500:
                access.log(
                    logging.ERROR if status >= 500 else logging.INFO,
                    "request",
                    extra={
                        "route": route,
                        "method": method,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "key": scope.get(KEY_NAME),
                    },
                )
            request_id_var.reset(token)


def create_app(settings: Settings, context: Context | None = None) -> Litestar:
    """Build the app. Tests pass their own `context`; otherwise the lifespan builds one from `settings`."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        ctx = context or Context.build(settings)
        app.state.ctx = ctx
        keys: KeyFileWatcher | None = None
        if settings.api_keys_file is not None:
            keys = KeyFileWatcher(settings.api_keys_file, ctx.auth, settings.api_keys_watch_s)
            keys.load()  # a broken file fails the start-up, before any traffic
        if settings.rate_limit > 0:
            app.state.ratelimiter = RateLimiter(ctx.redis, settings.rate_limit, settings.rate_burst)
        await ctx.start()
        if keys is not None:
            keys.start()
        if context is None:  # a serving process (tests build their own context and keep the default collector)
            log.info("start-up heap frozen: %d objects", heap.settle())
        try:
            yield
        finally:
            if keys is not None:
                await keys.stop()
            await ctx.close()
            mark_process_dead(os.getpid())

    app = Litestar(
        route_handlers=ROUTES,
        lifespan=[lifespan],
        middleware=[EdgeMiddleware(settings.access_log)],
        exception_handlers={
            FraudgateError: _fraudgate_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        # the batch route's limit; /v1/decide checks its own, smaller one
        request_max_body_size=max(settings.max_body_bytes, settings.max_batch_body_bytes),
        openapi_config=OpenAPIConfig(
            title="fraudgate",
            version="1",
            components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
        ),
        debug=False,
    )
    # the decide routes decode their bodies themselves: their schemas are msgspec's, added to Litestar's document
    openapi = app.plugins.get(OpenAPIPlugin).provide_openapi()
    openapi.components.schemas = {**api_components(), **(openapi.components.schemas or {})}
    return app
