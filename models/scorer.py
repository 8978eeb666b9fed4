"""The online scorer: one row in, one :class:`Score` out, with no DataFrame per call."""

from __future__ import annotations

import ctypes
import logging
import math
from collections.abc import Callable, Mapping
from functools import partial
from types import ModuleType
from typing import Any

import lightgbm as lgb
import msgspec
import numpy as np
import polars as pl

from models import native
from models.errors import ScoringError
from models.fast_predict import FastPredictor
from models.forest import ForestTables, UnsupportedModel, build_forest, flatten
from models.learners.booster import SCORE
from models.learners.calibration import CALIBRATED, scalar_calibrator
from models.learners.ecdf import ECDF, scalar_ecdf
from models.pipeline import PipelineSpec, spec_predict
from models.schema import Reason, Score

_NAN = math.nan

log = logging.getLogger(__name__)

REASON_MAX_DEPTH = 64
"""Longest root-to-leaf path whose reasons the compiled stage computes (`models/_forest.c`); deeper trees leave
them to LightGBM's C API."""


class Scorer:
    """Scores rows with a fitted pipeline; everything is built once here, nothing per call.

    ``score`` reads a mapping (missing = absent key or None; categorical values are ``str``, numeric ones int, float
    or bool) and ``score_frame`` is its batch twin over Polars; both give the same numbers.
    """

    feature_names: tuple[str, ...]
    """Features in booster column order."""

    def __init__(self, spec: PipelineSpec, model_text: str, *, use_native: bool = True) -> None:
        """Build the booster, lookups and interpolation tables from a pipeline spec and LightGBM model text.

        ``use_native=False`` keeps the Python adapters and LightGBM's C API (the fallback where no C compiler
        works; also what the benchmark and the tests compare the compiled stage with)."""
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
        self._contributions: Callable[[Any], list[float]] = self._fast.contributions
        """TreeSHAP per feature then the expected value: the compiled stage's where enabled, else LightGBM's C API."""
        self._calibrate = scalar_calibrator(spec.calibration)
        self._ecdf = scalar_ecdf(spec.ecdf)
        self._frame = spec_predict(spec, self.booster)
        self.native = self._compile(model_text, use_native)
        self.score_row: Callable[[Mapping[str, Any]], Score] = (
            self.native.score if self.native is not None else partial(self.score, reasons=0)
        )
        """``score(row, reasons=0)`` with nothing in between: the compiled stage's own method where it is built."""

    def _compile(self, model_text: str, use_native: bool) -> native.NativeForest | None:
        """The whole stage as one C call (``models/_forest.c``), or None to keep the Python + C API path."""
        module = native.load() if use_native else None
        if module is None:
            return None
        try:
            t = flatten(model_text)
        except UnsupportedModel as exc:
            log.warning("model not compiled, scoring through LightGBM's C API: %s", exc)
            return None
        if t.num_features != len(self.feature_names):
            log.warning(
                "model text has %d features, the spec %d: not compiled", t.num_features, len(self.feature_names)
            )
            return None
        try:
            forest = self._new_forest(module, t)
        except (ValueError, TypeError) as exc:  # e.g. more features than the compiled stage takes
            log.warning("model not compiled, scoring through LightGBM's C API: %s", exc)
            return None
        if forest.enable_reasons(t.internal_counts, t.leaf_counts, REASON_MAX_DEPTH):
            self._contributions = forest.contributions
        else:
            log.info("paths deeper than %d: reasons through LightGBM's C API", REASON_MAX_DEPTH)
        return forest

    def _new_forest(self, module: ModuleType, t: ForestTables) -> native.NativeForest:
        codes: list[dict[str, float] | None] = [None] * len(self.feature_names)
        fills = [0.0] * len(self.feature_names)
        for i, _, lookup, other in self._lookups:
            codes[i], fills[i] = lookup, other
        for i, fill in self._fills:
            fills[i] = float(fill)
        return build_forest(
            module, t, names=self.feature_names, codes=codes, fills=fills, calibration=self.spec.calibration,
            quantiles=self.spec.ecdf.quantiles, error=ScoringError, result=Score,
        )  # fmt: skip

    def vector(self, row: Mapping[str, Any]) -> ctypes.Array[ctypes.c_double]:
        """The encoded, imputed row as the ctypes array the fast predictor reads (booster column order).

        Compiled: one C call (``_forest.c``'s ``encode``). Otherwise one C-level ``map`` over the keys, a Python
        step only for categorical codes and missing numbers, and one C-level copy into the array; the per-feature
        type checks only run when that copy fails. Both raise the same ScoringError for a wrong type.
        """
        if self.native is not None:
            row_out = self._fast.new_row()
            self.native.encode(row, row_out)
            return row_out
        values: list[Any] = list(map(row.get, self.feature_names))
        for i, _, codes, other in self._lookups:
            v = values[i]
            if v.__class__ is str or isinstance(v, str):
                values[i] = codes.get(v, other)
            elif v is None:
                values[i] = _NAN  # LightGBM's missing category
            else:
                raise self._row_error(row)
        for i, fill in self._fills:
            v = values[i]
            if v is None or v != v:  # NaN counts as missing, as in the frame path
                values[i] = fill
        out = self._fast.new_row()
        try:
            out[:] = values
        except (TypeError, ValueError, OverflowError):
            raise self._row_error(row) from None
        return out

    def _row_error(self, row: Mapping[str, Any]) -> ScoringError:
        """The first feature, in column order, whose value has the wrong type: the compiled stage's rules."""
        for f, name in zip(self.spec.features, self.feature_names, strict=True):
            v = row.get(name)
            got = type(v).__name__
            if v is None:
                continue
            if f.kind == "categorical":
                if not isinstance(v, str):
                    return ScoringError(f"categorical feature {name!r} expects a str, got {got}")
                continue
            if isinstance(v, str | bytes | bytearray):
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
        if self.native is not None:
            scored = self.native.score(row)
            return msgspec.structs.replace(scored, reasons=self._top(self.vector(row), reasons)) if reasons else scored
        x = self.vector(row)
        raw = self._fast.predict(x)
        top = self._top(x, reasons) if reasons > 0 else ()
        return Score(score=raw, calibrated=self._calibrate(raw), ecdf=self._ecdf(raw), reasons=top)

    def reasons(self, row: Mapping[str, Any], n: int = 3) -> tuple[Reason, ...]:
        """The `n` top contributions alone, for a row already scored (the engine asks only for review and deny)."""
        return self._top(self.vector(row), n)

    def _top(self, x: Any, n: int) -> tuple[Reason, ...]:
        contrib = self._contributions(x)
        names = self.feature_names
        order = sorted(range(len(names)), key=lambda j: (-abs(contrib[j]), j))[:n]
        return tuple(Reason(feature=names[j], contribution=contrib[j]) for j in order)

    def score_frame(self, df: pl.DataFrame) -> pl.DataFrame:
        """``df`` with Float64 columns ``score``, ``calibrated`` and ``ecdf`` added; absent features count as null."""
        scored = self._frame(df)
        return df.with_columns(scored.select(SCORE, CALIBRATED, ECDF))
