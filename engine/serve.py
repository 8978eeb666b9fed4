"""Serve the app with uvicorn (uvloop, httptools), no access log on the hot path, HTTPS when a certificate is set."""

from __future__ import annotations

from typing import Any

import uvicorn

from engine.app import create_app
from engine.settings import Settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The options `serve` hands to uvicorn (separate so tests can check them)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_level": "warning",
        "timeout_graceful_shutdown": 10,
    }
    if settings.tls_cert and settings.tls_key:
        options |= {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    return options


def serve(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM; the lifespan flushes the decision log on the way out."""
    uvicorn.run(create_app(settings), **uvicorn_options(settings))
