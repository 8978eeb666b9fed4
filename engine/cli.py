"""`fraudgate`: the one command-line entry point."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from engine.errors import ConfigError
from engine.settings import Settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fraudgate", description="Real-time fraud decision engine.")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("run", help="set up the demo (Redis, data, model, profiles, key) and serve")
    sub.add_parser("serve", help="serve with the settings of the environment")

    g = sub.add_parser("generate", help="generate synthetic card_payment events and profile tables (Parquet)")
    g.add_argument("--out", type=Path, required=True, help="folder to write events.parquet and the profiles to")
    g.add_argument("--events", type=int, default=200_000, help="number of events")
    g.add_argument("--seed", type=int, default=7, help="random seed")
    g.add_argument("--days", type=int, default=None, help="days covered (default: the generator's)")

    f = sub.add_parser("features", help="feature store tasks")
    fsub = f.add_subparsers(dest="features_command", required=True)
    fl = fsub.add_parser("load", help="load profile tables (cards/customers/merchants/devices.parquet) into Redis")
    fl.add_argument("--dir", type=Path, required=True, help="folder holding the profile Parquet files")
    fl.add_argument("--snapshot", default=None, help="snapshot id to record (default: the folder name)")

    t = sub.add_parser("train", help="train a model bundle from an event log with labels and its profiles")
    t.add_argument("--data", type=Path, required=True, help="folder with events.parquet and profile tables")
    t.add_argument("--out", type=Path, default=None, help="model registry folder (default FRAUDGATE_MODEL_DIR)")
    t.add_argument("--label", default="is_fraud", help="label column (0/1)")
    t.add_argument("--version", default=None, help="bundle version (default: timestamp + data digest)")

    pol = sub.add_parser("policies", help="check or test policy files")
    psub = pol.add_subparsers(dest="policies_command", required=True)
    for name, text in (("check", "check that policy files load"), ("test", "run the policies' own test cases")):
        pp = psub.add_parser(name, help=text)
        pp.add_argument(
            "files", nargs="*", type=Path, help="policy files (default: every file in FRAUDGATE_POLICY_DIR)"
        )

    lt = sub.add_parser("loadtest", help="open-loop load test against a running engine", add_help=False)
    lt.add_argument("args", nargs=argparse.REMAINDER)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand; configuration errors print one clear line and exit 2."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["loadtest"]:
        from loadtest.cli import main as loadtest_main

        return loadtest_main(argv[1:])
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _dispatch(args)
    except ConfigError as e:
        print(f"fraudgate: {e.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    import os

    settings = Settings.from_env()
    if args.command == "run":
        from engine.demo import run

        return run(settings, redis_url_given=bool(os.environ.get("FRAUDGATE_REDIS_URL")))
    if args.command == "serve":
        from engine.serve import serve

        serve(settings)
        return 0
    if args.command == "generate":
        from loadtest.synthetic import SyntheticConfig, generate

        kwargs: dict[str, int] = {"n_events": args.events, "seed": args.seed}
        if args.days:
            kwargs["days"] = args.days
        generate(SyntheticConfig(**kwargs), progress=True).write(args.out)  # type: ignore[arg-type]
        print(f"wrote {args.events:,} events and profiles to {args.out}")
        return 0
    if args.command == "features":
        import redis

        from engine.training import read_profiles
        from features.card_payment import CARD_PAYMENT
        from features.loader import load_profiles

        client = redis.Redis.from_url(settings.redis_url)
        written = load_profiles(
            client, CARD_PAYMENT, read_profiles(args.dir), snapshot=args.snapshot or args.dir.resolve().name
        )
        print(", ".join(f"{k}: {v:,}" for k, v in written.items()))
        return 0
    if args.command == "train":
        from engine.training import train_card_payment

        path = train_card_payment(args.data, args.out or settings.model_dir, label=args.label, version=args.version)
        print(f"bundle {path} (report: {path / 'report.html'})")
        return 0
    if args.command == "policies":
        from engine.policy_cases import check_files, test_files

        files = args.files or sorted(settings.policy_dir.glob("*.yaml"))
        return check_files(files) if args.policies_command == "check" else test_files(files)
    raise AssertionError(f"unhandled command {args.command}")
