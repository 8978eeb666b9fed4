"""`fraudgate generate`, `fraudgate train`."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.commands import Subparsers
from engine.settings import Settings


def _generate(args: argparse.Namespace, _: Settings) -> int:
    from loadtest.synthetic import SyntheticConfig, generate

    config = SyntheticConfig(n_events=args.events, seed=args.seed, **({"days": args.days} if args.days else {}))
    generate(config, progress=True).write(args.out)
    print(f"wrote {args.events:,} events and profiles to {args.out}")
    return 0


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from engine.training import train_card_payment

    path = train_card_payment(args.data, args.out or settings.model_dir, label=args.label, version=args.version)
    print(f"bundle {path} (report: {path / 'report.html'})")
    return 0


def register(sub: Subparsers) -> None:
    """Add the data commands."""
    g = sub.add_parser("generate", help="generate synthetic card_payment events and profile tables (Parquet)")
    g.add_argument("--out", type=Path, required=True, help="folder to write events.parquet and the profiles to")
    g.add_argument("--events", type=int, default=200_000, help="number of events")
    g.add_argument("--seed", type=int, default=7, help="random seed")
    g.add_argument("--days", type=int, default=None, help="days covered (default: the generator's)")
    g.set_defaults(handler=_generate)

    t = sub.add_parser("train", help="train a model bundle from an event log with labels and its profiles")
    t.add_argument("--data", type=Path, required=True, help="folder with events.parquet and profile tables")
    t.add_argument("--out", type=Path, default=None, help="model registry folder (default FRAUDGATE_MODEL_DIR)")
    t.add_argument("--label", default="is_fraud", help="label column (0/1)")
    t.add_argument("--version", default=None, help="bundle version (default: timestamp + data digest)")
    t.set_defaults(handler=_train)
