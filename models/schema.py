"""Public value types of ``models``: feature definitions, the training configuration and the score."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

OTHER = "__other__"
"""The level that rare and unseen categorical values are folded into."""


class Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Shared base of every schema in ``models``: immutable, and unknown fields are refused when decoding."""


class FeatureDef(Base, frozen=True):
    """One model input: a column of the training frame and a key of the online row."""

    name: str
    """Column name in training frames and key in scored rows."""
    kind: Literal["numeric", "categorical"]
    """``numeric``: int, float or bool values; ``categorical``: string values."""


Fraction = Annotated[float, Meta(gt=0, lt=1)]


class TrainConfig(Base, frozen=True):
    """Everything that steers ``train_bundle``; defaults suit a few hundred thousand rows."""

    num_trees: Annotated[int, Meta(ge=1)] = 200
    """Boosting rounds of the LightGBM model."""
    learning_rate: Annotated[float, Meta(gt=0)] = 0.05
    """LightGBM shrinkage per round."""
    num_leaves: Annotated[int, Meta(ge=2)] = 31
    """Maximum leaves per tree."""
    max_depth: Annotated[int, Meta(ge=-1)] = -1
    """Deepest a tree may grow (-1: no limit but ``num_leaves``); shallower trees score and explain faster."""
    min_data_in_leaf: Annotated[int, Meta(ge=1)] = 50
    """Minimum training rows in a leaf."""
    max_categories: Annotated[int, Meta(ge=1)] = 50
    """Most frequent levels kept per categorical feature; the others become ``__other__``."""
    min_category_count: Annotated[int, Meta(ge=1)] = 20
    """Levels seen fewer times than this in training become ``__other__``."""
    calibration: Literal["isotonic", "platt"] = "isotonic"
    """Calibration method fitted on the held-out calibration slice."""
    ecdf_points: Annotated[int, Meta(ge=2)] = 1001
    """Number of raw-score quantiles kept for the ECDF mapping."""
    seed: int = 0
    """Seed of every random choice LightGBM makes."""
    num_threads: Annotated[int, Meta(ge=1)] = 2
    """Threads LightGBM may use while training."""
    train_fraction: Fraction = 0.70
    """Share of rows (in time order) before the gap: booster training plus calibration slice."""
    gap_fraction: Annotated[float, Meta(ge=0, lt=1)] = 0.05
    """Share of rows dropped between the training period and the test period, so labels cannot leak."""
    calibration_fraction: Fraction = 0.20
    """Share of the training period, taken from its end, kept out of the booster to fit calibration and ECDF."""

    def __post_init__(self) -> None:
        """Refuse configurations that leave no test period; msgspec checks the rest when decoding."""
        if self.train_fraction + self.gap_fraction >= 1:
            msg = (
                f"train_fraction ({self.train_fraction}) + gap_fraction ({self.gap_fraction}) must be below 1 "
                "to leave rows for the test period; lower one of them"
            )
            raise ValueError(msg)


DEFAULT_CONFIG = TrainConfig()
"""The default training configuration."""


class Reason(Base, frozen=True):
    """One feature's share of a score, from LightGBM's ``pred_contrib`` (log-odds units)."""

    feature: str
    """Feature name."""
    contribution: float
    """SHAP contribution in raw log-odds; positive pushes towards fraud."""


class Score(Base, frozen=True):
    """What the model says about one row."""

    score: float
    """Raw booster probability."""
    calibrated: float
    """Probability after calibration on the held-out slice."""
    ecdf: float
    """Share of reference scores at or below ``score``, in [0, 1]."""
    reasons: tuple[Reason, ...] = ()
    """Top features by absolute contribution; empty when no reasons were asked for."""
