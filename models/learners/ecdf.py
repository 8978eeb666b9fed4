"""ECDF mapping: where a raw score sits among the scores of a reference slice."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import polars as pl

from models.learners.base import Learner, LearnerReturn, PredictFn, StepLog
from models.learners.booster import SCORE
from models.provenance import Provenance, provenance_of
from models.schema import Base

ECDF = "ecdf"
"""Column holding the share of reference scores at or below the score."""


class EcdfParams(Base, frozen=True):
    """Evenly spaced quantiles of the raw score on the reference slice."""

    quantiles: list[float]
    """Quantile ``i`` is the raw score at probability ``i / (len - 1)``; non-decreasing."""
    reference_rows: int
    """Rows of the reference slice."""


class EcdfLog(StepLog, frozen=True, tag="ecdf"):
    """Log of a fitted ECDF step."""

    params: EcdfParams
    """What was learnt."""
    provenance: Provenance
    """Where it was learnt from."""


def fit_ecdf(score: npt.ArrayLike, points: int) -> EcdfParams:
    """Keep ``points`` quantiles of the reference scores."""
    s = np.asarray(score, dtype=np.float64)
    if s.size == 0:
        msg = "the ECDF reference slice is empty; give the training frame more rows"
        raise ValueError(msg)
    q = np.quantile(s, np.linspace(0.0, 1.0, points))
    return EcdfParams(quantiles=np.maximum.accumulate(q).tolist(), reference_rows=int(s.size))


# ecdf(s): 0 below the smallest quantile, 1 from the largest one; in between, linear from the probability of the
# last quantile <= s (ties: the last of the run, so every tied reference score counts as <= s) to the next one.


def ecdf_array(params: EcdfParams, score: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Vectorised ECDF of raw scores, monotone and within [0, 1]."""
    q = np.asarray(params.quantiles, dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    n = q.size
    k = np.searchsorted(q, s, side="right")
    inner = np.clip(k, 1, n - 1)
    q0, q1 = q[inner - 1], q[inner]
    p0, step = (inner - 1) / (n - 1), 1 / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        frac = np.where(q1 > q0, (s - q0) / (q1 - q0), 0.0)
    out = p0 + step * np.clip(frac, 0.0, 1.0)
    return np.asarray(np.where(k == 0, 0.0, np.where(k >= n, 1.0, out)), dtype=np.float64)


def scalar_ecdf(params: EcdfParams) -> Callable[[float], float]:
    """ECDF of one raw score in plain Python; agrees with :func:`ecdf_array`."""
    q = list(params.quantiles)
    n = len(q)
    step = 1 / (n - 1)

    def ecdf(s: float) -> float:
        k = bisect_right(q, s)
        if k == 0:
            return 0.0
        if k >= n:
            return 1.0
        q0, q1 = q[k - 1], q[k]
        frac = (s - q0) / (q1 - q0) if q1 > q0 else 0.0
        return (k - 1) / (n - 1) + step * min(max(frac, 0.0), 1.0)

    return ecdf


def ecdf_predict(params: EcdfParams) -> PredictFn:
    """Predict function adding the ``ecdf`` column from ``score``."""

    def predict(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(pl.Series(ECDF, ecdf_array(params, df.get_column(SCORE).to_numpy()), dtype=pl.Float64))

    return predict


def ecdf_learner(*, points: int) -> Learner:
    """Curried learner for :func:`fit_ecdf`, fitted on a frame that already holds ``score``."""

    def learn(df: pl.DataFrame) -> LearnerReturn:
        params = fit_ecdf(df.get_column(SCORE).to_numpy(), points)
        predict = ecdf_predict(params)
        return predict, predict(df), EcdfLog(params=params, provenance=provenance_of(df))

    return learn
