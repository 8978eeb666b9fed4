"""Subcommands of `fraudgate`, one module per area; each exposes `register(subparsers)`.

A module's `register` adds its parser(s) and sets `handler=callable(args, settings) -> int` on them, so the entry
point stays a dispatcher and areas grow their commands without touching each other's files.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from engine.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]
Subparsers = Any  # argparse's _SubParsersAction is private; typed loosely on purpose
