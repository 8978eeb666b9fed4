"""`fraudgate policies check|test`."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.commands import Subparsers
from engine.settings import Settings


def _policies(args: argparse.Namespace, settings: Settings) -> int:
    from engine.policy_cases import check_files, test_files

    files = args.files or sorted(settings.policy_dir.glob("*.yaml"))
    return check_files(files) if args.policies_command == "check" else test_files(files)


def register(sub: Subparsers) -> None:
    """Add `policies check` and `policies test`."""
    pol = sub.add_parser("policies", help="check or test policy files")
    psub = pol.add_subparsers(dest="policies_command", required=True)
    for name, text in (("check", "check that policy files load"), ("test", "run the policies' own test cases")):
        pp = psub.add_parser(name, help=text)
        pp.add_argument(
            "files", nargs="*", type=Path, help="policy files (default: every file in FRAUDGATE_POLICY_DIR)"
        )
        pp.set_defaults(handler=_policies)
