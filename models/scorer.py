"""The online scorer: one row in, one :class:`Score` out, with no DataFrame per call."""

from __future__ import annotations

import ctypes
import math
from collections.abc import Mapping
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from models.errors import ScoringError
from models.fast_predict import FastPredictor
from models.learners.booster import SCORE
from models.learners.calibration import CALIBRATED, scalar_calibrator
from models.learners.ecdf import ECDF, scalar_ecdf
from models.pipeline import PipelineSpec, spec_predict
from models.schema import Reason, Score

_NAN = math.nan


class Scorer:
    """Scores rows with a fitted pipeline; everything is built once here, nothing per call.

    ``score`` reads a mapping (missing = absent key or None; categorical values are ``str``, numeric ones int, float
    or bool) and ``score_frame`` is its batch twin over Polars; both give the same numbers.
    """

    feature_names: tuple[str, ...]
    """Features in booster column order."""

    def __init__(self, spec: PipelineSpec, model_text: str) -> None:
        """Build the booster, lookups and interpolation tables from a pipeline spec and LightGBM model text."""
        self.spec = spec
        self.feature_names = tuple(f.name for f in spec.features)
        self.booster = lgb.Booster(model_str=model_text)
        # Truncation then encoding collapse into one lookup: kept level -> its code, anything else -> other's code.
        self._categorical = tuple(
            (i, f.name, spec.encoding.codes[f.name], float(spec.encoding.codes[f.name][spec.encoding.other]))
            for i, f in enumerate(spec.features)
            if f.kind == "categorical"
        )
        self._lookups = tuple(
            (i, name, {k: float(v) for k, v in codes.items()}, other) for i, name, codes, other in self._categorical
        )
        self._numeric = tuple(
            (i, f.name, spec.imputation.values[f.name]) for i, f in enumerate(spec.features) if f.kind == "numeric"
        )
        self._fills = tuple((i, fill) for i, _, fill in self._numeric)
        self._fast = FastPredictor(self.booster)
        self._calibrate = scalar_calibrator(spec.calibration)
        self._ecdf = scalar_ecdf(spec.ecdf)
        self._frame = spec_predict(spec, self.booster)

    def vector(self, row: Mapping[str, Any]) -> ctypes.Array[ctypes.c_double]:
        """The encoded, imputed row as the ctypes array the fast predictor reads (booster column order).

        The hot path: one C-level ``map`` over the keys, a Python step only for categorical codes and missing
        numbers, and one C-level copy into the array; the per-feature type checks only run when that copy fails.
        """
        values: list[Any] = list(map(row.get, self.feature_names))
        for i, name, codes, other in self._lookups:
            v = values[i]
            if v.__class__ is str or isinstance(v, str):
                values[i] = codes.get(v, other)
            elif v is None:
                values[i] = _NAN  # LightGBM's missing category
            else:
                msg = f"categorical feature {name!r} expects a str, got {type(v).__name__}"
                raise ScoringError(msg)
        for i, fill in self._fills:
            v = values[i]
            if v is None or v != v:  # NaN counts as missing, as in the frame path
                values[i] = fill
        out = self._fast.new_row()
        try:
            out[:] = values
        except (TypeError, ValueError, OverflowError):
            raise self._numeric_error(values) from None
        return out

    def _numeric_error(self, values: list[Any]) -> ScoringError:
        for i, name, _ in self._numeric:
            v = values[i]
            got = type(v).__name__
            if isinstance(v, str):
                return ScoringError(f"numeric feature {name!r} expects an int, float or bool, got {got}")
            try:
                float(v)
            except (TypeError, ValueError, OverflowError):
                return ScoringError(f"numeric feature {name!r} expects an int, float or bool, got {got}")
        return ScoringError("row cannot be converted to the booster's float64 input")

    def matrix_row(self, row: Mapping[str, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The encoded, imputed 1 x n float64 array the booster sees for ``row`` (what ``score`` feeds LightGBM)."""
        return np.array([self.vector(row)], dtype=np.float64)

    def score(self, row: Mapping[str, Any], *, reasons: int = 3) -> Score:
        """Score one row; ``reasons`` > 0 adds that many top contributions (TreeSHAP: costs far more than a score)."""
        x = self.vector(row)
        raw = self._fast.predict(x)
        top = self._top(x, reasons) if reasons > 0 else ()
        return Score(score=raw, calibrated=self._calibrate(raw), ecdf=self._ecdf(raw), reasons=top)

    def reasons(self, row: Mapping[str, Any], n: int = 3) -> tuple[Reason, ...]:
        """The `n` top contributions alone, for a row already scored (the engine asks only for review and deny)."""
        return self._top(self.vector(row), n)

    def _top(self, x: Any, n: int) -> tuple[Reason, ...]:
        contrib = self._fast.contributions(x)
        names = self.feature_names
        order = sorted(range(len(names)), key=lambda j: (-abs(contrib[j]), j))[:n]
        return tuple(Reason(feature=names[j], contribution=contrib[j]) for j in order)

    def score_frame(self, df: pl.DataFrame) -> pl.DataFrame:
        """``df`` with Float64 columns ``score``, ``calibrated`` and ``ecdf`` added; absent features count as null."""
        scored = self._frame(df)
        return df.with_columns(scored.select(SCORE, CALIBRATED, ECDF))
