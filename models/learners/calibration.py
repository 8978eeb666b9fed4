"""Calibration of the raw score: isotonic (PAV) or Platt, fitted on a slice the booster never saw."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from models.isotonic import isotonic_apply, isotonic_fit
from models.learners.base import Learner, LearnerReturn, PredictFn, StepLog
from models.learners.booster import SCORE
from models.provenance import Provenance, provenance_of
from models.schema import Base

CALIBRATED = "calibrated"
"""Column holding the calibrated probability."""

PLATT_EPS = 1e-12
PLATT_CLIP = 500.0


class IsotonicParams(Base, frozen=True, tag="isotonic"):
    """Breakpoints of the isotonic fit; values between them are interpolated, values outside clipped."""

    x: list[float]
    """Raw scores, strictly increasing."""
    y: list[float]
    """Calibrated probabilities at ``x``, non-decreasing."""


class PlattParams(Base, frozen=True, tag="platt"):
    """Logistic map ``calibrated = 1 / (1 + exp(-(a * logit(score) + b)))``."""

    a: float
    """Slope on the raw score's log-odds."""
    b: float
    """Intercept."""


CalibrationParams = IsotonicParams | PlattParams


class CalibrationLog(StepLog, frozen=True, tag="calibration"):
    """Log of a fitted calibration step."""

    params: CalibrationParams
    """What was learnt."""
    provenance: Provenance
    """Where it was learnt from."""


def _logit(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    q = np.clip(p, PLATT_EPS, 1 - PLATT_EPS)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


def _sigmoid(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # Clipping keeps exp finite; beyond +-500 the probability is 0 or 1 to double precision anyway.
    return np.asarray(1 / (1 + np.exp(-np.clip(t, -PLATT_CLIP, PLATT_CLIP))), dtype=np.float64)


def fit_platt(score: npt.ArrayLike, label: npt.ArrayLike, *, iterations: int = 50) -> PlattParams:
    """Logistic regression of ``label`` on ``logit(score)`` by Newton's method (tiny ridge keeps it finite)."""
    z = _logit(np.asarray(score, dtype=np.float64))
    y = np.asarray(label, dtype=np.float64)
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = _sigmoid(a * z + b)
        w = p * (1 - p)
        g = np.array([np.dot(z, p - y) + 1e-6 * a, np.sum(p - y)])
        h = np.array([[np.dot(w, z * z) + 1e-6, np.dot(w, z)], [np.dot(w, z), np.sum(w) + 1e-9]])
        step = np.linalg.solve(h, g)
        if not np.all(np.isfinite(step)):
            break
        a, b = a - float(step[0]), b - float(step[1])
        if float(np.max(np.abs(step))) < 1e-10:
            break
    return PlattParams(a=a, b=b)


def fit_calibration(
    score: npt.ArrayLike, label: npt.ArrayLike, method: Literal["isotonic", "platt"]
) -> CalibrationParams:
    """Fit the chosen calibration of ``label`` on ``score``."""
    if method == "platt":
        return fit_platt(score, label)
    xs, ys = isotonic_fit(score, label)
    return IsotonicParams(x=xs.tolist(), y=ys.tolist())


def calibrate_array(params: CalibrationParams, score: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Vectorised calibration of raw scores."""
    s = np.asarray(score, dtype=np.float64)
    if isinstance(params, PlattParams):
        return _sigmoid(params.a * _logit(s) + params.b)
    return isotonic_apply(np.asarray(params.x), np.asarray(params.y), s)


def scalar_calibrator(params: CalibrationParams) -> Callable[[float], float]:
    """Calibration of one raw score in plain Python (no numpy per call); agrees with :func:`calibrate_array`."""
    if isinstance(params, PlattParams):
        a, b = params.a, params.b

        def platt(s: float) -> float:
            q = min(max(s, PLATT_EPS), 1 - PLATT_EPS)
            t = min(max(a * math.log(q / (1 - q)) + b, -PLATT_CLIP), PLATT_CLIP)
            return 1 / (1 + math.exp(-t))

        return platt
    xs, ys = list(params.x), list(params.y)
    last = len(xs) - 1

    def isotonic(s: float) -> float:
        if s <= xs[0]:
            return ys[0]
        if s >= xs[last]:
            return ys[last]
        k = bisect_right(xs, s)
        x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
        return y0 + min(max((s - x0) / (x1 - x0), 0.0), 1.0) * (y1 - y0)

    return isotonic


def calibration_predict(params: CalibrationParams) -> PredictFn:
    """Predict function adding the ``calibrated`` column from ``score``."""

    def predict(df: pl.DataFrame) -> pl.DataFrame:
        values = calibrate_array(params, df.get_column(SCORE).to_numpy())
        return df.with_columns(pl.Series(CALIBRATED, values, dtype=pl.Float64))

    return predict


def calibration_learner(*, label: str, method: Literal["isotonic", "platt"]) -> Learner:
    """Curried learner for :func:`fit_calibration`, fitted on a frame that already holds ``score``."""

    def learn(df: pl.DataFrame) -> LearnerReturn:
        params = fit_calibration(df.get_column(SCORE).to_numpy(), df.get_column(label).to_numpy(), method)
        predict = calibration_predict(params)
        return predict, predict(df), CalibrationLog(params=params, provenance=provenance_of(df))

    return learn
