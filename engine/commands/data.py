"""`fraudgate generate`, `fraudgate train` (the card_payment model from an event log, or any labelled table)."""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from engine.commands import Subparsers
from engine.errors import ConfigError
from engine.settings import Settings
from models.schema import FeatureDef


def _generate(args: argparse.Namespace, _: Settings) -> int:
    from loadtest.synthetic import SyntheticConfig, generate

    config = SyntheticConfig(n_events=args.events, seed=args.seed, **({"days": args.days} if args.days else {}))
    generate(config, progress=True).write(args.out)
    print(f"wrote {args.events:,} events and profiles to {args.out}")
    return 0


def _train(args: argparse.Namespace, settings: Settings) -> int:
    if args.table is not None:
        return _train_table(args, settings)
    from engine.training import train_card_payment

    path = train_card_payment(args.data, args.out or settings.model_dir, label=args.label, version=args.version)
    print(f"bundle {path} (report: {path / 'report.html'})")
    return 0


def table_features(schema: pl.Schema, *, label: str, time_col: str | None, names: list[str] | None,
                   categorical: list[str] | None) -> list[FeatureDef]:  # fmt: skip
    """The features of a labelled table: `names` (default every column but the label and the time column), each
    categorical when listed in `categorical` or, when that is None, when its column holds strings."""
    names = names or [c for c in schema.names() if c not in (label, time_col)]
    text = (pl.String, pl.Categorical, pl.Enum)
    out: list[FeatureDef] = []
    for name in names:
        if name not in schema:
            raise ConfigError(f"--features: the table has no column `{name}` (it has {', '.join(schema.names())})")
        is_text = name in categorical if categorical is not None else schema[name] in text
        out.append(FeatureDef(name=name, kind="categorical" if is_text else "numeric"))
    return out


def _train_table(args: argparse.Namespace, settings: Settings) -> int:
    from models import TrainConfig, train_bundle

    table: Path = args.table
    if not table.is_file():
        raise ConfigError(f"--table: no file at {table}")
    df = pl.read_csv(table, try_parse_dates=True) if table.suffix == ".csv" else pl.read_parquet(table)
    if args.label not in df.columns:
        raise ConfigError(f"--label: the table has no column `{args.label}` (it has {', '.join(df.columns)})")
    if args.time_col is not None:
        if args.time_col not in df.columns:
            raise ConfigError(f"--time-col: the table has no column `{args.time_col}`")
        df = df.sort(args.time_col)
    features = table_features(df.schema, label=args.label, time_col=args.time_col,
                              names=_names(args.features), categorical=_names(args.categorical))  # fmt: skip
    try:
        path = train_bundle(df, features, label=args.label, time_col=args.time_col, out_dir=args.out or
                            settings.model_dir, name=table.stem, version=args.version, config=TrainConfig(),
                            progress=True)  # fmt: skip
    except ValueError as exc:  # the frame does not fit the features: train_bundle says how to fix it
        raise ConfigError(str(exc)) from None
    print(f"bundle {path} (report: {path / 'report.html'}); not promoted: its features are the table's own")
    return 0


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def register(sub: Subparsers) -> None:
    """Add the data commands."""
    g = sub.add_parser("generate", help="generate synthetic card_payment events and profile tables (Parquet)")
    g.add_argument("--out", type=Path, required=True, help="folder to write events.parquet and the profiles to")
    g.add_argument("--events", type=int, default=200_000, help="number of events")
    g.add_argument("--seed", type=int, default=7, help="random seed")
    g.add_argument("--days", type=int, default=None, help="days covered (default: the generator's)")
    g.set_defaults(handler=_generate)

    t = sub.add_parser(
        "train", help="train a model bundle from an event log with labels and its profiles, or from any labelled table"
    )
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="folder with events.parquet and profile tables (the card_payment model)")
    src.add_argument("--table", type=Path, help="any labelled table (Parquet or CSV): its columns are the features")
    t.add_argument("--features", default=None, help="with --table: feature columns, comma-separated (default: all)")
    t.add_argument("--categorical", default=None, help="with --table: categorical columns (default: string columns)")
    t.add_argument("--time-col", default=None, help="with --table: order rows by it for the time split")
    t.add_argument("--out", type=Path, default=None, help="model registry folder (default FRAUDGATE_MODEL_DIR)")
    t.add_argument("--label", default="is_fraud", help="label column (0/1)")
    t.add_argument("--version", default=None, help="bundle version (default: timestamp + data digest)")
    t.set_defaults(handler=_train)
