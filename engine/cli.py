"""`fraudgate`: the one command-line entry point; each area's subcommands live in `engine/commands/`."""

from __future__ import annotations

import argparse
import logging
import sys

from engine.commands import data, etl, feature_store, models_cmd, policies, replay, serving
from engine.errors import ConfigError
from engine.settings import Settings

AREAS = (serving, data, feature_store, models_cmd, policies, etl, replay)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fraudgate", description="Real-time fraud decision engine.")
    sub = p.add_subparsers(dest="command", required=True)
    for area in AREAS:
        area.register(sub)
    # handled before parsing (its options are the load tester's own); listed here for --help
    sub.add_parser("loadtest", help="open-loop load test against a running engine (see `fraudgate loadtest -h`)")
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
        return int(args.handler(args, Settings.from_env()))
    except ConfigError as e:
        print(f"fraudgate: {e.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
