"""LightGBM binary classifier over the encoded, imputed feature matrix."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import polars as pl
from tqdm import tqdm

from models.learners.base import Learner, LearnerReturn, PredictFn, StepLog
from models.provenance import Provenance, provenance_of
from models.schema import Base, FeatureDef, TrainConfig

SCORE = "score"
"""Column holding the raw booster probability."""

LgbParam = str | int | float | bool


class BoosterParams(Base, frozen=True):
    """How the booster was trained and what its columns are."""

    params: dict[str, LgbParam]
    """LightGBM parameters passed to ``lightgbm.train``."""
    num_trees: int
    """Boosting rounds."""
    feature_names: list[str]
    """Matrix column order; the same as the bundle's feature order."""
    categorical: list[str]
    """Features LightGBM treats as categorical codes."""


class BoosterLog(StepLog, frozen=True, tag="booster"):
    """Log of a fitted booster step."""

    params: BoosterParams
    """What was used."""
    model_text: str
    """What was learnt: ``Booster.model_to_string()``."""
    provenance: Provenance
    """Where it was learnt from."""


def lgb_params(config: TrainConfig) -> dict[str, LgbParam]:
    """LightGBM parameters for ``config``: binary objective, deterministic, silent."""
    depth: dict[str, LgbParam] = {"max_depth": config.max_depth} if config.max_depth > 0 else {}
    return {
        "objective": "binary",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_data_in_leaf,
        **depth,
        "seed": config.seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": config.num_threads,
        "verbosity": -1,
    }


def feature_matrix(df: pl.DataFrame, names: Sequence[str]) -> npt.NDArray[np.float64]:
    """The float64 matrix of ``names`` in that order (nulls become NaN); expects encoded, imputed columns."""
    return df.select(pl.col(n).cast(pl.Float64) for n in names).to_numpy().astype(np.float64, copy=False)


def booster_predict(booster: lgb.Booster, names: Sequence[str]) -> PredictFn:
    """Predict function adding the ``score`` column (raw probability) computed from the ``names`` columns."""
    cols = list(names)

    def predict(df: pl.DataFrame) -> pl.DataFrame:
        raw = booster.predict(feature_matrix(df, cols), num_threads=1) if df.height else np.empty(0)
        return df.with_columns(pl.Series(SCORE, np.asarray(raw, dtype=np.float64), dtype=pl.Float64))

    return predict


def _progress_callback(bar: tqdm[Any]) -> Callable[[Any], None]:
    def callback(env: Any) -> None:
        bar.update(1)

    return callback


def booster_learner(
    *, features: Sequence[FeatureDef], label: str, config: TrainConfig, progress: bool = False
) -> Learner:
    """Curried learner training a LightGBM binary model on ``features`` against ``label``."""
    names = [f.name for f in features]
    categorical = [f.name for f in features if f.kind == "categorical"]
    params = lgb_params(config)

    def learn(df: pl.DataFrame) -> LearnerReturn:
        dataset = lgb.Dataset(
            feature_matrix(df, names),
            label=df.get_column(label).cast(pl.Float64).to_numpy(),
            feature_name=names,
            categorical_feature=[names.index(c) for c in categorical],
            params=params,
            free_raw_data=True,
        )
        with tqdm(total=config.num_trees, desc="trees", disable=not progress) as bar:
            booster = lgb.train(params, dataset, num_boost_round=config.num_trees, callbacks=[_progress_callback(bar)])
        predict = booster_predict(booster, names)
        log = BoosterLog(
            params=BoosterParams(
                params=params, num_trees=config.num_trees, feature_names=names, categorical=categorical
            ),
            model_text=booster.model_to_string(),
            provenance=provenance_of(df),
        )
        return predict, predict(df), log

    return learn
