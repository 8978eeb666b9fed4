"""`fraudgate train`: event log + profiles → offline features → model bundle, registered as CURRENT."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from features.card_payment import CARD_PAYMENT, MODEL_FEATURES
from features.labels import with_label_delay
from features.offline import compute_offline
from models import FeatureDef, TrainConfig, train_bundle
from models.registry import Registry

PROFILE_FILES = {"card": "cards", "customer": "customers", "merchant": "merchants", "device": "devices"}
"""Entity kind to the profile table's file stem in a data folder."""


def read_profiles(data_dir: Path) -> dict[str, pl.DataFrame]:
    """The profile tables present in `data_dir` (`cards.parquet`, ...), keyed by entity kind."""
    out = {}
    for entity, stem in PROFILE_FILES.items():
        path = data_dir / f"{stem}.parquet"
        if path.exists():
            out[entity] = pl.read_parquet(path)
    return out


DEMO_CONFIG = TrainConfig(max_depth=8)
"""Trees capped at depth 8: the same AUC on the demo data, and reason codes (SHAP) about 30 % cheaper
(docs/benchmarks/models.md)."""

LABEL_DELAY_S = 7 * 86400
"""How long after a transaction its fraud label (a chargeback) is taken to become known, when the event log carries
the label itself rather than a label feed with its own `labelled_at`."""


def training_frame(
    events: pl.DataFrame, profiles: Mapping[str, pl.DataFrame], *, label: str | None = "is_fraud"
) -> pl.DataFrame:
    """Events with the model's features computed by the offline twin; booleans become 0/1 as the scorer sees them.

    With a `label` column, the delayed label features (e.g. a merchant's confirmed fraud share) see each label only
    `LABEL_DELAY_S` after its transaction, as serving does through `fraudgate labels load`: no leakage from the future.
    """
    labels = with_label_delay(events, LABEL_DELAY_S, label=label) if label and label in events.columns else None
    df = compute_offline(events, profiles, CARD_PAYMENT, labels=labels)
    bools = [n for n, _ in MODEL_FEATURES if df.schema[n] == pl.Boolean]
    return df.with_columns([pl.col(n).cast(pl.Float64) for n in bools])


def train_card_payment(
    data_dir: Path,
    model_dir: Path,
    *,
    label: str = "is_fraud",
    config: TrainConfig | None = None,
    progress: bool = True,
    version: str | None = None,
) -> Path:
    """Train on `data_dir/events.parquet` and its profiles; write the bundle under `model_dir`, promote it."""
    events = pl.read_parquet(data_dir / "events.parquet")
    if label not in events.columns:
        raise ValueError(f"{data_dir / 'events.parquet'} has no label column `{label}`; pass --label NAME")
    df = training_frame(events, read_profiles(data_dir), label=label).with_columns(pl.col(label).cast(pl.Int64))
    features = [FeatureDef(name=n, kind=k) for n, k in MODEL_FEATURES]  # type: ignore[arg-type]
    path = train_bundle(
        df,
        features,
        label=label,
        time_col="occurred_at",
        out_dir=model_dir,
        name=CARD_PAYMENT.name,
        version=version,
        config=config or DEMO_CONFIG,
        progress=progress,
    )
    Registry(model_dir).promote(path.name)  # atomic, verified, and the previous champion goes to HISTORY
    return path
