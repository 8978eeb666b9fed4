"""Categorical encoding: level to integer code, for LightGBM's native categorical splits."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from models.learners.base import Learner, LearnerReturn, PredictFn, StepLog
from models.provenance import Provenance, provenance_of
from models.schema import OTHER, Base


class EncodingParams(Base, frozen=True):
    """Codes per categorical feature."""

    codes: dict[str, dict[str, int]]
    """Feature name to level to code; the ``other`` level always has a code, which unseen levels take."""
    other: str = OTHER
    """The level whose code unseen values get."""


class EncodingLog(StepLog, frozen=True, tag="encoding"):
    """Log of a fitted encoding step."""

    params: EncodingParams
    """What was learnt."""
    provenance: Provenance
    """Where it was learnt from."""


def fit_encoding(df: pl.DataFrame, features: Sequence[str], *, other: str = OTHER) -> EncodingParams:
    """Give every level seen in ``df`` (plus ``other``) a code, in sorted order so codes are reproducible."""
    codes: dict[str, dict[str, int]] = {}
    for name in features:
        levels = set(df.get_column(name).drop_nulls().unique().to_list()) | {other}
        codes[name] = {level: code for code, level in enumerate(sorted(levels))}
    return EncodingParams(codes=codes, other=other)


def encoding_predict(params: EncodingParams) -> PredictFn:
    """Predict function turning each categorical column into Float64 codes; nulls stay null (LightGBM: missing)."""
    exprs = [
        pl.when(pl.col(name).is_null())
        .then(pl.lit(None, dtype=pl.Float64))
        .otherwise(
            pl.col(name).replace_strict(
                {k: float(v) for k, v in mapping.items()},
                default=float(mapping[params.other]),
                return_dtype=pl.Float64,
            )
        )
        .alias(name)
        for name, mapping in params.codes.items()
    ]

    def predict(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(exprs) if exprs else df

    return predict


def encoding_learner(*, features: Sequence[str]) -> Learner:
    """Curried learner for :func:`fit_encoding`."""

    def learn(df: pl.DataFrame) -> LearnerReturn:
        params = fit_encoding(df, features)
        predict = encoding_predict(params)
        return predict, predict(df), EncodingLog(params=params, provenance=provenance_of(df))

    return learn
