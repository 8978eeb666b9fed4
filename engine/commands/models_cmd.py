"""`fraudgate models ...`: the model registry (list, promote, rollback, challenger) over FRAUDGATE_MODEL_DIR.

These commands change the pointer files only; a running server picks the change up on its next model reload.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec
import polars as pl

from engine.commands import Handler, Subparsers
from engine.settings import Settings
from models.errors import BundleError, RegistryError
from models.registry import Registry


def _list(_: argparse.Namespace, settings: Settings) -> int:
    registry = Registry(settings.model_dir)
    for info in registry.list():
        role = "current" if info.current else "challenger" if info.challenger else ""
        print(f"{'*' if info.current else '+' if info.challenger else ' '} {info.version}  {role}".rstrip())
    return 0


def _promote(args: argparse.Namespace, settings: Settings) -> int:
    version = Registry(settings.model_dir).promote(args.version)
    print(f"CURRENT = {version}")
    return 0


def _rollback(_: argparse.Namespace, settings: Settings) -> int:
    version = Registry(settings.model_dir).rollback()
    print(f"CURRENT = {version} (rolled back)")
    return 0


def _challenger(args: argparse.Namespace, settings: Settings) -> int:
    registry = Registry(settings.model_dir)
    if args.clear == (args.version is not None):
        print("give either VERSION or --clear", file=sys.stderr)
        return 2
    version = registry.set_challenger(None if args.clear else args.version)
    print(f"CHALLENGER = {version or '(none)'}")
    return 0


def _guarded(handler: Handler) -> Handler:
    """Registry and bundle errors become one line on stderr and exit code 1, not a traceback."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return handler(args, settings)
        except (RegistryError, BundleError) as exc:
            print(f"fraudgate models: {exc}", file=sys.stderr)
            return 1

    return run


def _compare(args: argparse.Namespace, _: Settings) -> int:
    import json

    from engine.etl import read_output
    from models.compare import compare, compare_html

    frame = read_output(args.etl).filter(pl.col("challenger") != "null")
    records = [
        {
            "decision": {k: row[k] for k in ("score", "calibrated", "ecdf", "action")},
            "challenger": json.loads(row["challenger"]),
        }
        for row in frame.iter_rows(named=True)
    ]
    result = compare(records)
    print(msgspec.json.format(msgspec.json.encode(result)).decode())
    if args.html:
        args.html.write_text(compare_html(records))
        print(f"report: {args.html}")
    return 0


def _drift(args: argparse.Namespace, settings: Settings) -> int:
    from engine.etl import read_output
    from models import load_bundle
    from models.drift_report import drift_html, drift_rows, drift_text

    registry: Path = args.models or settings.model_dir
    known: dict[str, list[float] | None] = {}

    def quantiles_of(version: str) -> list[float] | None:
        if version not in known:
            path = registry / version
            known[version] = list(load_bundle(path).scorer.spec.ecdf.quantiles) if path.is_dir() else None
        return known[version]

    rows = drift_rows(read_output(args.etl), quantiles_of)
    print(drift_text(rows) if rows else "no scored decisions in the log")
    if args.html:
        args.html.write_text(drift_html(rows))
        print(f"report: {args.html}")
    return 0


def register(sub: Subparsers) -> None:
    """Add `models list|promote VERSION|rollback|challenger (VERSION | --clear)|compare|drift`."""
    m = sub.add_parser("models", help="model registry: versions, champion, challenger")
    msub = m.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="bundles in FRAUDGATE_MODEL_DIR; * marks CURRENT, + the challenger").set_defaults(
        handler=_guarded(_list)
    )
    p = msub.add_parser("promote", help="verify VERSION and make it CURRENT; the old one goes to HISTORY")
    p.add_argument("version", metavar="VERSION")
    p.set_defaults(handler=_guarded(_promote))
    msub.add_parser("rollback", help="make the previous CURRENT current again").set_defaults(
        handler=_guarded(_rollback)
    )
    c = msub.add_parser("challenger", help="name the shadow model (VERSION) or remove it (--clear)")
    c.add_argument("version", metavar="VERSION", nargs="?")
    c.add_argument("--clear", action="store_true", help="remove the challenger")
    c.set_defaults(handler=_guarded(_challenger))
    cmp = msub.add_parser("compare", help="champion vs challenger from the decision log (the ETL output)")
    cmp.add_argument("--etl", type=Path, required=True, help="the ETL output folder (date=*/part-*.parquet)")
    cmp.add_argument("--html", type=Path, default=None, help="write the HTML report with plots here")
    cmp.set_defaults(handler=_guarded(_compare))
    d = msub.add_parser("drift", help="PSI of the live scores per day and version, from the decision log (the ETL)")
    d.add_argument("--etl", type=Path, required=True, help="the ETL output folder (date=*/part-*.parquet)")
    d.add_argument("--models", type=Path, default=None, help="the registry (default FRAUDGATE_MODEL_DIR)")
    d.add_argument("--html", type=Path, default=None, help="write the HTML report with the PSI plot here")
    d.set_defaults(handler=_guarded(_drift))
