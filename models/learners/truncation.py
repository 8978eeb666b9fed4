"""Categorical truncation: keep the frequent levels, fold the rest into ``__other__``."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from models.learners.base import Learner, LearnerReturn, PredictFn, StepLog
from models.provenance import Provenance, provenance_of
from models.schema import OTHER, Base


class TruncationParams(Base, frozen=True):
    """Levels kept per categorical feature."""

    kept: dict[str, list[str]]
    """Feature name to the levels kept, most frequent first; any other non-null value becomes ``other``."""
    other: str = OTHER
    """Replacement for rare and unseen levels."""


class TruncationLog(StepLog, frozen=True, tag="truncation"):
    """Log of a fitted truncation step."""

    params: TruncationParams
    """What was learnt."""
    provenance: Provenance
    """Where it was learnt from."""


def fit_truncation(
    df: pl.DataFrame, features: Sequence[str], *, min_count: int, max_categories: int
) -> TruncationParams:
    """Keep, per feature, the ``max_categories`` most frequent levels seen at least ``min_count`` times."""
    kept: dict[str, list[str]] = {}
    for name in features:
        counts = (
            df.get_column(name)
            .drop_nulls()
            .value_counts(name="n")
            .filter(pl.col("n") >= min_count)
            .sort(["n", name], descending=[True, False])
            .head(max_categories)
        )
        kept[name] = counts.get_column(name).to_list()
    return TruncationParams(kept=kept)


def truncation_predict(params: TruncationParams) -> PredictFn:
    """Predict function replacing every non-null level outside ``params.kept`` by ``params.other``."""
    exprs = [
        pl.when(pl.col(name).is_null())
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(
            pl.col(name).replace_strict({v: v for v in levels}, default=pl.lit(params.other), return_dtype=pl.String)
        )
        .alias(name)
        for name, levels in params.kept.items()
    ]

    def predict(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(exprs) if exprs else df

    return predict


def truncation_learner(*, features: Sequence[str], min_count: int, max_categories: int) -> Learner:
    """Curried learner for :func:`fit_truncation`."""

    def learn(df: pl.DataFrame) -> LearnerReturn:
        params = fit_truncation(df, features, min_count=min_count, max_categories=max_categories)
        predict = truncation_predict(params)
        return predict, predict(df), TruncationLog(params=params, provenance=provenance_of(df))

    return learn
