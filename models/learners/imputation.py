"""Numeric imputation: nulls (and NaN) become the training median."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from models.learners.base import Learner, LearnerReturn, PredictFn, StepLog
from models.provenance import Provenance, provenance_of
from models.schema import Base


class ImputationParams(Base, frozen=True):
    """Replacement values per numeric feature."""

    values: dict[str, float]
    """Feature name to the training median (0.0 when the column held no values)."""


class ImputationLog(StepLog, frozen=True, tag="imputation"):
    """Log of a fitted imputation step."""

    params: ImputationParams
    """What was learnt."""
    provenance: Provenance
    """Where it was learnt from."""


def _as_float(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.Float64).fill_nan(None)


def fit_imputation(df: pl.DataFrame, features: Sequence[str]) -> ImputationParams:
    """Median of each numeric feature over its non-missing training values."""
    values: dict[str, float] = {}
    if features:
        medians = df.select(_as_float(name).median() for name in features).row(0)
        values = {name: 0.0 if m is None else float(m) for name, m in zip(features, medians, strict=True)}
    return ImputationParams(values=values)


def imputation_predict(params: ImputationParams) -> PredictFn:
    """Predict function casting numeric features to Float64 and filling null and NaN with the learnt values."""
    exprs = [_as_float(name).fill_null(value).alias(name) for name, value in params.values.items()]

    def predict(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(exprs) if exprs else df

    return predict


def imputation_learner(*, features: Sequence[str]) -> Learner:
    """Curried learner for :func:`fit_imputation`."""

    def learn(df: pl.DataFrame) -> LearnerReturn:
        params = fit_imputation(df, features)
        predict = imputation_predict(params)
        return predict, predict(df), ImputationLog(params=params, provenance=provenance_of(df))

    return learn
