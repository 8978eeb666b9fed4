"""`fraudgate models ...`: the model registry's tasks (list for now)."""

from __future__ import annotations

import argparse

from engine.commands import Subparsers
from engine.settings import Settings


def _list(_: argparse.Namespace, settings: Settings) -> int:
    current = (
        (settings.model_dir / "CURRENT").read_text().strip() if (settings.model_dir / "CURRENT").exists() else None
    )
    versions = (
        sorted(p.name for p in settings.model_dir.iterdir() if (p / "manifest.json").exists())
        if settings.model_dir.exists()
        else []
    )
    for v in versions:
        print(("* " if v == current else "  ") + v)
    return 0


def register(sub: Subparsers) -> None:
    """Add `models list`."""
    m = sub.add_parser("models", help="model registry tasks")
    msub = m.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="bundles in FRAUDGATE_MODEL_DIR; * marks CURRENT").set_defaults(handler=_list)
