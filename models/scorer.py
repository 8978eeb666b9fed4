"""The online scorer: one row in, one :class:`Score` out, with no DataFrame per call."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from models.errors import ScoringError
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
        self._codes = tuple({k: float(v) for k, v in codes.items()} for _, _, codes, _ in self._categorical)
        self._numeric = tuple(
            (i, f.name, spec.imputation.values[f.name]) for i, f in enumerate(spec.features) if f.kind == "numeric"
        )
        self._calibrate = scalar_calibrator(spec.calibration)
        self._ecdf = scalar_ecdf(spec.ecdf)
        self._frame = spec_predict(spec, self.booster)

    def matrix_row(self, row: Mapping[str, Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The encoded, imputed 1 x n float64 array the booster sees for ``row``."""
        values = [_NAN] * len(self.feature_names)
        for (i, name, _, other), codes in zip(self._categorical, self._codes, strict=True):
            v = row.get(name)
            if v is None:
                continue  # NaN: LightGBM's missing category
            if not isinstance(v, str):
                msg = f"categorical feature {name!r} expects a str, got {type(v).__name__}"
                raise ScoringError(msg)
            values[i] = codes.get(v, other)
        for i, name, fill in self._numeric:
            v = row.get(name)
            if v is None:
                values[i] = fill
                continue
            if isinstance(v, str):
                msg = f"numeric feature {name!r} expects an int, float or bool, got str"
                raise ScoringError(msg)
            try:
                x = float(v)
            except (TypeError, ValueError):
                msg = f"numeric feature {name!r} expects an int, float or bool, got {type(v).__name__}"
                raise ScoringError(msg) from None
            values[i] = fill if x != x else x  # NaN counts as missing, as in the frame path
        # A fresh array per call keeps the scorer safe to share between threads; it costs about a microsecond.
        return np.array([values], dtype=np.float64)

    def score(self, row: Mapping[str, Any], *, reasons: int = 3) -> Score:
        """Score one row; ``reasons`` > 0 adds that many top contributions (one more booster pass)."""
        x = self.matrix_row(row)
        raw = float(self.booster.predict(x, num_threads=1)[0])
        top: tuple[Reason, ...] = ()
        if reasons > 0:
            contrib = self.booster.predict(x, pred_contrib=True, num_threads=1)[0]
            order = sorted(range(len(self.feature_names)), key=lambda j: (-abs(contrib[j]), j))[:reasons]
            top = tuple(Reason(feature=self.feature_names[j], contribution=float(contrib[j])) for j in order)
        return Score(score=raw, calibrated=self._calibrate(raw), ecdf=self._ecdf(raw), reasons=top)

    def score_frame(self, df: pl.DataFrame) -> pl.DataFrame:
        """``df`` with Float64 columns ``score``, ``calibrated`` and ``ecdf`` added; absent features count as null."""
        scored = self._frame(df)
        return df.with_columns(scored.select(SCORE, CALIBRATED, ECDF))
