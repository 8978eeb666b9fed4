"""LightGBM's C API single-row fast path (``LGBM_BoosterPredictForMatSingleRowFast``) over ctypes.

``Booster.predict`` rebuilds its prediction config, validates and copies the input on every call; for one row that
is most of its cost (see ``benchmarks/scorer_bench.py``). The fast path parses the config once per handle and then
evaluates the very same trees, so its numbers are LightGBM's own: no re-implementation to keep in step.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Any

import lightgbm as lgb

_PREDICT_NORMAL = 0  # C_API_PREDICT_NORMAL: with the sigmoid of the binary objective
_PREDICT_CONTRIB = 3  # C_API_PREDICT_CONTRIB: SHAP values, one per feature plus the expected value
_DTYPE_FLOAT64 = 1  # C_API_DTYPE_FLOAT64

_LIB: Any = getattr(lgb.basic, "_LIB")  # noqa: B009  # private, but the supported way to reach the C API
_FAST = _LIB.LGBM_BoosterPredictForMatSingleRowFast
_FAST.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_double)]
_FAST.restype = ctypes.c_int
_INIT = _LIB.LGBM_BoosterPredictForMatSingleRowFastInit
_INIT.argtypes = [
    ctypes.c_void_p,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int32,
    ctypes.c_char_p,
    ctypes.POINTER(ctypes.c_void_p),
]
_INIT.restype = ctypes.c_int
_FREE = _LIB.LGBM_FastConfigFree
_FREE.argtypes = [ctypes.c_void_p]
_FREE.restype = ctypes.c_int


def _check(code: int) -> None:
    if code != 0:
        raise lgb.basic.LightGBMError(_LIB.LGBM_GetLastError().decode())


def _init(booster: lgb.Booster, predict_type: int, ncol: int) -> ctypes.c_void_p:
    handle = ctypes.c_void_p()
    _check(_INIT(booster._handle, predict_type, 0, -1, _DTYPE_FLOAT64, ncol, b"num_threads=1", ctypes.byref(handle)))
    return handle


def _free(handles: tuple[ctypes.c_void_p, ...]) -> None:
    for handle in handles:
        _FREE(handle)


class FastPredictor:
    """Single-row predictions of one booster; the booster must outlive it (it keeps a reference).

    Rows are ``ctypes.c_double * num_feature`` arrays (see :meth:`new_row`) in booster column order, NaN = missing.
    A lock serialises calls: LightGBM shares one single-row predictor per booster and handle, and the ctypes call
    releases the GIL.
    """

    def __init__(self, booster: lgb.Booster) -> None:
        """Create the fast-config handles for probabilities and contributions, once."""
        self.booster = booster
        self.num_feature = int(booster.num_feature())
        self.row_type: type[ctypes.Array[ctypes.c_double]] = ctypes.c_double * self.num_feature
        self._normal = _init(booster, _PREDICT_NORMAL, self.num_feature)
        self._contrib = _init(booster, _PREDICT_CONTRIB, self.num_feature)
        self._lock = threading.Lock()
        weakref.finalize(self, _free, (self._normal, self._contrib))

    def _wrong_row(self, row: object) -> TypeError:
        # LightGBM reads num_feature doubles from the pointer it is given: anything else must never reach it.
        return TypeError(f"expected a row from new_row() (c_double * {self.num_feature}), got {type(row).__name__}")

    def new_row(self) -> ctypes.Array[ctypes.c_double]:
        """A zeroed input row of the right width (about 70 ns: cheaper than sharing one between threads)."""
        return self.row_type()

    def predict(self, row: ctypes.Array[ctypes.c_double]) -> float:
        """The booster's probability for ``row``; equals ``Booster.predict`` on the same values."""
        if row.__class__ is not self.row_type:
            raise self._wrong_row(row)
        out = ctypes.c_double()
        length = ctypes.c_int64()
        with self._lock:
            code = _FAST(self._normal, row, ctypes.byref(length), ctypes.byref(out))
        _check(code)
        return out.value

    def contributions(self, row: ctypes.Array[ctypes.c_double]) -> list[float]:
        """SHAP contributions of each feature, then the expected value (log-odds), as ``pred_contrib=True``."""
        if row.__class__ is not self.row_type:
            raise self._wrong_row(row)
        out = (ctypes.c_double * (self.num_feature + 1))()
        length = ctypes.c_int64()
        with self._lock:
            code = _FAST(self._contrib, row, ctypes.byref(length), out)
        _check(code)
        return list(out)
