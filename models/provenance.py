"""Where a learnt artifact came from: package versions, row counts and a digest of the data."""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata

import polars as pl

from models.schema import Base

_PACKAGES = ("polars", "lightgbm", "numpy", "msgspec")


class Provenance(Base, frozen=True):
    """Recorded in every step log and in the bundle manifest."""

    packages: dict[str, str]
    """Versions of Python and of the packages that shaped the result."""
    training_rows: int
    """Rows the step was fitted on."""
    data_digest: str
    """sha256 of the CSV rendering of the frame the step was fitted on."""


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that decide what a model computes."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        versions[name] = metadata.version(name)
    return versions


def frame_digest(df: pl.DataFrame) -> str:
    """sha256 of the frame rendered as CSV: the same values in the same order give the same digest."""
    return hashlib.sha256(df.write_csv().encode()).hexdigest()


def provenance_of(df: pl.DataFrame) -> Provenance:
    """Provenance of a step fitted on ``df``."""
    return Provenance(packages=package_versions(), training_rows=df.height, data_digest=frame_digest(df))
