"""`fraudgate run` and `fraudgate serve`."""

from __future__ import annotations

import argparse
import os

from engine.commands import Subparsers
from engine.settings import Settings


def _run(_: argparse.Namespace, settings: Settings) -> int:
    from engine.demo import run

    # the one place besides Settings that looks at the environment: "was a Redis given?" decides whether to start one
    return run(settings, redis_url_given=bool(os.environ.get("FRAUDGATE_REDIS_URL")))


def _serve(_: argparse.Namespace, settings: Settings) -> int:
    from engine.serve import serve

    serve(settings)
    return 0


def register(sub: Subparsers) -> None:
    """Add `run` and `serve`."""
    sub.add_parser("run", help="set up the demo (Redis, data, model, profiles, key) and serve").set_defaults(
        handler=_run
    )
    sub.add_parser("serve", help="serve with the settings of the environment").set_defaults(handler=_serve)
