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


def _labels_load(args: argparse.Namespace, settings: Settings) -> int:
    import polars as pl
    import redis

    from features.card_payment import CARD_PAYMENT
    from features.labels import load_labels, with_label_delay

    labels = pl.read_parquet(args.file)
    if args.assume_delay_s is not None:
        labels = with_label_delay(labels, args.assume_delay_s, label=args.label)
    client = redis.Redis.from_url(settings.redis_url)
    counted = load_labels(client, CARD_PAYMENT, labels)
    print(", ".join(f"{k}: {v:,} new fraud labels" for k, v in counted.items()))
    return 0


def register(sub: Subparsers) -> None:
    """Add `features load` and `labels load`."""
    f = sub.add_parser("features", help="feature store tasks")
    fsub = f.add_subparsers(dest="features_command", required=True)
    fl = fsub.add_parser("load", help="load profile tables (cards/customers/merchants/devices.parquet) into Redis")
    fl.add_argument("--dir", type=Path, required=True, help="folder holding the profile Parquet files")
    fl.add_argument("--snapshot", default=None, help="snapshot id to record (default: the folder name)")
    fl.set_defaults(handler=_features_load)

    lab = sub.add_parser("labels", help="label feedback (chargebacks) for the delayed risk features")
    lsub = lab.add_subparsers(dest="labels_command", required=True)
    ll = lsub.add_parser(
        "load", help="count fraud labels (event_id, merchant_id, occurred_at, labelled_at[, is_fraud]) into Redis"
    )
    ll.add_argument("--file", type=Path, required=True, help="Parquet file of labels")
    ll.add_argument(
        "--assume-delay-s",
        type=int,
        default=None,
        help="the file is an event log with a label column: each label becomes known this many seconds later",
    )
    ll.add_argument("--label", default="is_fraud", help="label column used with --assume-delay-s")
    ll.set_defaults(handler=_labels_load)
