"""Serve the app with uvicorn (uvloop, httptools), JSON logs, HTTPS when a certificate is set, N worker processes.

With `FRAUDGATE_WORKERS` > 1 uvicorn starts the workers itself, each building its app from the environment through
the import-string factory `engine.serve:app_from_env`; their metrics meet in prometheus_client's multiprocess folder
(`PROMETHEUS_MULTIPROC_DIR`, or a fresh `metrics-<pid>` folder under the data dir), which must be set in the
environment before a worker imports prometheus_client: `serve` sets it for its children.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import uvicorn
from litestar import Litestar

from engine.app import create_app
from engine.logs import configure_logging
from engine.metrics import use_multiprocess
from engine.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The options `serve` hands to uvicorn (separate so tests can check them)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_level": "warning",
        # our JSON handler (engine.logs) serves uvicorn's loggers too
        "log_config": None,
        "timeout_graceful_shutdown": 10,
    }
    if settings.tls_cert and settings.tls_key:
        options |= {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    if settings.workers > 1:
        options |= {"workers": settings.workers, "factory": True}
    return options


def app_from_env() -> Litestar:
    """The app of one worker process, built from the environment (uvicorn's import-string factory)."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    use_multiprocess(settings.metrics_dir)
    return create_app(settings)


def metrics_folder(settings: Settings) -> Path:
    """An empty folder for the workers' metric files (stale files from an earlier run would be added up too)."""
    folder = settings.metrics_dir or settings.data_dir / f"metrics-{os.getpid()}"
    if folder.exists():
        for child in folder.glob("*.db"):
            child.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def serve(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM; the lifespan flushes the decision log on the way out."""
    configure_logging(settings.log_level)
    if settings.workers <= 1:
        use_multiprocess(None)
        uvicorn.run(create_app(settings), **uvicorn_options(settings))
        return
    folder = metrics_folder(settings)
    os.environ[MULTIPROC_ENV] = str(folder)  # read by prometheus_client when a worker imports it
    try:
        uvicorn.run("engine.serve:app_from_env", **uvicorn_options(settings))
    finally:
        if settings.metrics_dir is None:
            shutil.rmtree(folder, ignore_errors=True)
