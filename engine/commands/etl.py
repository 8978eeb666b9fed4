"""`fraudgate etl`: the decision stream to date-partitioned Parquet."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.commands import Subparsers
from engine.settings import Settings


def _etl(args: argparse.Namespace, settings: Settings) -> int:
    import redis

    from engine.etl import drain

    client = redis.Redis.from_url(settings.redis_url)
    try:
        read, written = drain(client, args.out, once=args.once, consumer=args.consumer)
    except KeyboardInterrupt:
        return 130
    print(f"read {read:,} records, wrote {written:,} new ones to {args.out}")
    return 0


def register(sub: Subparsers) -> None:
    """Add `etl`."""
    e = sub.add_parser("etl", help="drain the decision log stream to date-partitioned Parquet")
    e.add_argument("--out", type=Path, required=True, help="output folder (date=YYYY-MM-DD/part-*.parquet)")
    e.add_argument("--once", action="store_true", help="drain what is there and exit")
    e.add_argument("--consumer", default="etl-1", help="consumer name in the `etl` group")
    e.set_defaults(handler=_etl)
