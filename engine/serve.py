"""Serve the app with uvicorn (uvloop, httptools), no access log on the hot path."""

from __future__ import annotations

import uvicorn

from engine.app import create_app
from engine.settings import Settings


def serve(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM; the lifespan flushes the decision log on the way out."""
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
