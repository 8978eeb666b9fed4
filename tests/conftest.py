"""Session fixtures: a real redis-server on a free port, small synthetic data, a small trained model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import redis

from engine.redis_server import LocalRedis
from engine.training import read_profiles, train_card_payment
from loadtest.synthetic import SyntheticConfig, SyntheticData, generate
from models import TrainConfig

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    """One real redis-server for the session, on a free port, stopped at the end."""
    with LocalRedis(tmp_path_factory.mktemp("redis"), persist=False) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: LocalRedis) -> str:
    """The session's Redis, emptied before each test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SyntheticData]:
    """20,000 generated events with profiles, written to a folder."""
    data = generate(SyntheticConfig(n_events=20_000, seed=11, days=10), progress=False)
    folder = tmp_path_factory.mktemp("data")
    data.write(folder)
    return folder, data


@pytest.fixture(scope="session")
def model_dir(small_data: tuple[Path, SyntheticData], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry folder with one small model bundle marked CURRENT."""
    out = tmp_path_factory.mktemp("models")
    train_card_payment(small_data[0], out, config=TrainConfig(num_trees=30, min_data_in_leaf=20), progress=False)
    return out


@pytest.fixture(scope="session")
def profiles(small_data: tuple[Path, SyntheticData]) -> dict[str, pl.DataFrame]:
    """The profile tables of `small_data`, keyed by entity kind."""
    return read_profiles(small_data[0])
