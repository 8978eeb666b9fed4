"""The app factory: `create_app(settings, context=None)` wires routes, errors and the lifespan that owns resources."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig

from engine.context import Context
from engine.errors import FraudgateError
from engine.routes import ROUTES
from engine.settings import Settings

log = logging.getLogger(__name__)


def _error(status: int, detail: str) -> Response[dict[str, Any]]:
    return Response({"status_code": status, "detail": detail}, status_code=status, media_type=MediaType.JSON)


def _fraudgate_error(request: Request[Any, Any, Any], exc: FraudgateError) -> Response[dict[str, Any]]:
    if exc.status_code < 500 and hasattr(request.app.state, "ctx"):
        request.app.state.ctx.metrics.errors.labels(str(exc.status_code)).inc()
    return _error(exc.status_code, exc.detail)


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    return _error(exc.status_code, exc.detail)


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # a bug of ours: log it with its stack, answer without one
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return _error(500, "internal error")


def create_app(settings: Settings, context: Context | None = None) -> Litestar:
    """Build the app. Tests pass their own `context`; otherwise the lifespan builds one from `settings`."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        ctx = context or Context.build(settings)
        app.state.ctx = ctx
        await ctx.start()
        try:
            yield
        finally:
            await ctx.close()

    return Litestar(
        route_handlers=ROUTES,
        lifespan=[lifespan],
        exception_handlers={
            FraudgateError: _fraudgate_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        # the batch route's limit; /v1/decide checks its own, smaller one
        request_max_body_size=max(settings.max_body_bytes, settings.max_batch_body_bytes),
        openapi_config=OpenAPIConfig(title="fraudgate", version="1"),
        debug=False,
    )
