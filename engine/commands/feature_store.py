"""`fraudgate features ...`: the feature store's tasks."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.commands import Subparsers
from engine.settings import Settings


def _features_load(args: argparse.Namespace, settings: Settings) -> int:
    import redis

    from engine.training import read_profiles
    from features.card_payment import CARD_PAYMENT
    from features.loader import load_profiles

    client = redis.Redis.from_url(settings.redis_url)
    snapshot = args.snapshot or args.dir.resolve().name
    written = load_profiles(client, CARD_PAYMENT, read_profiles(args.dir), snapshot=snapshot)
    print(", ".join(f"{k}: {v:,}" for k, v in written.items()))
    return 0


def register(sub: Subparsers) -> None:
    """Add `features load`."""
    f = sub.add_parser("features", help="feature store tasks")
    fsub = f.add_subparsers(dest="features_command", required=True)
    fl = fsub.add_parser("load", help="load profile tables (cards/customers/merchants/devices.parquet) into Redis")
    fl.add_argument("--dir", type=Path, required=True, help="folder holding the profile Parquet files")
    fl.add_argument("--snapshot", default=None, help="snapshot id to record (default: the folder name)")
    fl.set_defaults(handler=_features_load)
