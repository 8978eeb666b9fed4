"""Fixtures for the models tests: the synthetic table and a bundle trained once per session."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from models_synth import make_frame, train_synth

from models import Bundle, load_bundle


@pytest.fixture(scope="session")
def frame() -> pl.DataFrame:
    """The shared synthetic table."""
    return make_frame()


@pytest.fixture(scope="session")
def bundle_dir(frame: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle trained once per session on the synthetic table."""
    return train_synth(frame, tmp_path_factory.mktemp("bundles"), "v1")


@pytest.fixture(scope="session")
def bundle(bundle_dir: Path) -> Bundle:
    """The session bundle, loaded and verified."""
    return load_bundle(bundle_dir)
