"""A tiny synthetic fraud table with a learnable signal (numpy), shared by the models tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from models import FeatureDef, TrainConfig, train_bundle

FEATURES = (
    FeatureDef(name="amount", kind="numeric"),
    FeatureDef(name="velocity_1h", kind="numeric"),
    FeatureDef(name="new_device", kind="numeric"),
    FeatureDef(name="country", kind="categorical"),
    FeatureDef(name="channel", kind="categorical"),
)
COUNTRIES = ("BR", "US", "AR", "MX", "CL", "PE", "NG", "XX1", "XX2")
COUNTRY_P = (0.4, 0.2, 0.1, 0.1, 0.08, 0.07, 0.04, 0.005, 0.005)
COUNTRY_EFFECT = {"NG": 1.5, "XX1": 2.0, "XX2": 2.0, "US": -0.5}
CHANNELS = ("ecommerce", "pos", "moto")

SMALL = TrainConfig(num_trees=30, learning_rate=0.1, num_leaves=15, min_data_in_leaf=20, ecdf_points=101)


def make_frame(n: int = 4000, seed: int = 0) -> pl.DataFrame:
    """Synthetic card payments: fraud rises with amount, velocity, new devices, e-commerce and a few countries."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.0, 1.0, n)
    velocity = rng.poisson(1.5, n)
    new_device = rng.random(n) < 0.2
    country = rng.choice(COUNTRIES, size=n, p=COUNTRY_P)
    channel = rng.choice(CHANNELS, size=n, p=(0.5, 0.4, 0.1))
    logit = (
        -5.5
        + 1.5 * (np.log(amount) - 3.0)
        + 0.7 * velocity
        + 2.0 * new_device
        + 1.5 * (channel == "ecommerce")
        + np.vectorize(lambda c: COUNTRY_EFFECT.get(c, 0.0))(country)
    )
    fraud = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    seconds = np.sort(rng.integers(0, 90 * 86400, n))
    amount_missing = rng.random(n) < 0.05
    country_missing = rng.random(n) < 0.03
    return pl.DataFrame(
        {
            "occurred_at": [start + dt.timedelta(seconds=int(s)) for s in seconds],
            "amount": [None if m else float(a) for a, m in zip(amount, amount_missing, strict=True)],
            "velocity_1h": velocity.astype(np.int64),
            "new_device": new_device,
            "country": [None if m else str(c) for c, m in zip(country, country_missing, strict=True)],
            "channel": channel.astype(str),
            "fraud": fraud,
        }
    )


def train_synth(frame: pl.DataFrame, out_dir: Path, version: str, config: TrainConfig = SMALL) -> Path:
    """A `card_payment` bundle trained on the synthetic table (time-ordered by `occurred_at`)."""
    return train_bundle(
        frame,
        FEATURES,
        label="fraud",
        time_col="occurred_at",
        out_dir=out_dir,
        name="card_payment",
        version=version,
        config=config,
    )
