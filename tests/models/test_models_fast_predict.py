"""LightGBM's single-row fast path against ``Booster.predict``, on raw rows with missing values."""

from __future__ import annotations

import ctypes
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from models_synth import FEATURES

from models import Bundle
from models.fast_predict import FastPredictor

# Encoded rows as the booster sees them: any float, NaN included, and small integers where codes live.
cells = st.one_of(
    st.just(math.nan),
    st.integers(-2, 12).map(float),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from([0.0, -0.0, 1e-40, 1.0]),
)
vectors = st.lists(cells, min_size=len(FEATURES), max_size=len(FEATURES))


def _row(fast: FastPredictor, values: list[float]) -> ctypes.Array[ctypes.c_double]:
    row = fast.new_row()
    row[:] = values
    return row


@settings(max_examples=200, deadline=None)
@given(vectors)
def test_fast_path_equals_booster_predict(bundle: Bundle, values: list[float]) -> None:
    fast = FastPredictor(bundle.scorer.booster)
    expected = bundle.scorer.booster.predict(np.array([values]), num_threads=1)[0]
    assert fast.predict(_row(fast, values)) == pytest.approx(expected, abs=1e-9, rel=0)


@settings(max_examples=50, deadline=None)
@given(vectors)
def test_fast_contributions_equal_pred_contrib(bundle: Bundle, values: list[float]) -> None:
    fast = FastPredictor(bundle.scorer.booster)
    expected = bundle.scorer.booster.predict(np.array([values]), pred_contrib=True, num_threads=1)[0]
    got = fast.contributions(_row(fast, values))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "amount": st.one_of(st.none(), st.just(math.nan), st.floats(0, 1e5, allow_nan=False)),
            "velocity_1h": st.one_of(st.none(), st.just(math.nan), st.integers(0, 30)),
            "new_device": st.one_of(st.none(), st.booleans()),
            "country": st.one_of(st.none(), st.sampled_from(["BR", "NG", "UNSEEN"])),
        }
    )
)
def test_scores_and_reasons_equal_booster_predict_with_nan(bundle: Bundle, row: dict[str, object]) -> None:
    scorer = bundle.scorer
    x = scorer.matrix_row(row)
    got = scorer.score(row, reasons=len(FEATURES))
    assert got.score == pytest.approx(scorer.booster.predict(x)[0], abs=1e-9, rel=0)
    contrib = scorer.booster.predict(x, pred_contrib=True)[0]
    for reason in got.reasons:
        j = scorer.feature_names.index(reason.feature)
        assert reason.contribution == pytest.approx(contrib[j], abs=1e-9, rel=0)


def test_a_row_of_the_wrong_width_is_refused(bundle: Bundle) -> None:

    fast = FastPredictor(bundle.scorer.booster)
    short = (ctypes.c_double * 1)()
    # LightGBM reads num_feature doubles from the pointer: a short buffer must never reach it.
    with pytest.raises(TypeError) as info:
        fast.predict(short)
    assert str(info.value) == "expected a row from new_row() (c_double * 5), got c_double_Array_1"
    with pytest.raises(TypeError):
        fast.contributions(short)
