"""The single-row scorer against its batch twin and against LightGBM itself."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from models_synth import COUNTRIES, FEATURES

from models import Bundle, Score, ScoringError
from models.learners.base import chain
from models.learners.booster import feature_matrix
from models.learners.encoding import encoding_predict
from models.learners.imputation import imputation_predict
from models.learners.truncation import truncation_predict
from models.pipeline import conform

SCHEMA = {
    "amount": pl.Float64,
    "velocity_1h": pl.Int64,
    "new_device": pl.Boolean,
    "country": pl.String,
    "channel": pl.String,
}
ABSENT = object()


def _value(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(ABSENT), st.none(), inner)


rows = st.lists(
    st.fixed_dictionaries(
        {
            "amount": _value(st.floats(0, 1e5, allow_nan=False)),
            "velocity_1h": _value(st.integers(0, 30)),
            "new_device": _value(st.booleans()),
            "country": _value(st.sampled_from([*COUNTRIES, "UNSEEN", "__other__", ""])),
            "channel": _value(st.sampled_from(["ecommerce", "pos", "moto", "phone"])),
        }
    ).map(lambda r: {k: v for k, v in r.items() if v is not ABSENT}),
    min_size=1,
    max_size=20,
)


def _frame(batch: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame([{k: r.get(k) for k in SCHEMA} for r in batch], schema=SCHEMA)


@settings(max_examples=60, deadline=None)
@given(rows)
def test_score_equals_score_frame(bundle: Bundle, batch: list[dict[str, Any]]) -> None:
    scorer = bundle.scorer
    frame = scorer.score_frame(_frame(batch))
    assert frame.columns[-3:] == ["score", "calibrated", "ecdf"]
    for row, expected in zip(batch, frame.iter_rows(named=True), strict=True):
        got = scorer.score(row, reasons=0)
        assert got.score == pytest.approx(expected["score"], abs=1e-9, rel=0)
        assert got.calibrated == pytest.approx(expected["calibrated"], abs=1e-9, rel=0)
        assert got.ecdf == pytest.approx(expected["ecdf"], abs=1e-9, rel=0)
        assert 0.0 <= got.ecdf <= 1.0


@settings(max_examples=60, deadline=None)
@given(rows)
def test_score_equals_booster_predict_on_the_encoded_matrix(bundle: Bundle, batch: list[dict[str, Any]]) -> None:
    spec = bundle.scorer.spec
    encode = chain(
        conform(spec.features),
        truncation_predict(spec.truncation),
        encoding_predict(spec.encoding),
        imputation_predict(spec.imputation),
    )
    matrix = feature_matrix(encode(_frame(batch)), [f.name for f in FEATURES])
    booster = lgb.Booster(model_file=str(bundle.path / "model.txt"))
    expected = booster.predict(matrix)
    for i, row in enumerate(batch):
        np.testing.assert_array_equal(bundle.scorer.matrix_row(row), matrix[i : i + 1])
        assert bundle.scorer.score(row, reasons=0).score == pytest.approx(expected[i], abs=1e-12, rel=0)


def test_reasons_are_the_top_contributions(bundle: Bundle) -> None:
    row = {"amount": 900.0, "velocity_1h": 6, "new_device": True, "country": "NG", "channel": "ecommerce"}
    full = bundle.scorer.score(row, reasons=len(FEATURES))
    assert isinstance(full, Score)
    sizes = [abs(r.contribution) for r in full.reasons]
    assert sizes == sorted(sizes, reverse=True)
    assert {r.feature for r in full.reasons} == {f.name for f in FEATURES}
    contrib = bundle.scorer.booster.predict(bundle.scorer.matrix_row(row), pred_contrib=True)[0]
    log_odds = np.log(full.score / (1 - full.score))
    assert sum(r.contribution for r in full.reasons) + contrib[-1] == pytest.approx(log_odds)
    assert bundle.scorer.score(row, reasons=2).reasons == full.reasons[:2]
    assert bundle.scorer.score(row, reasons=0).reasons == ()
    assert bundle.scorer.reasons(row, 2) == full.reasons[:2]  # the reasons-only path the engine uses
    assert full.score > bundle.scorer.score({}, reasons=0).score


def test_wrong_types_raise_scoring_errors(bundle: Bundle) -> None:
    with pytest.raises(ScoringError) as info:
        bundle.scorer.score({"country": 76})
    assert str(info.value) == "categorical feature 'country' expects a str, got int"
    with pytest.raises(ScoringError) as info:
        bundle.scorer.score({"amount": "12.5"})
    assert str(info.value) == "numeric feature 'amount' expects an int, float or bool, got str"
    with pytest.raises(ScoringError) as info:
        bundle.scorer.score({"amount": [1.0]})
    assert str(info.value) == "numeric feature 'amount' expects an int, float or bool, got list"


def test_nan_counts_as_missing(bundle: Bundle) -> None:
    assert bundle.scorer.score({"amount": float("nan")}) == bundle.scorer.score({"amount": None})


def test_score_frame_without_feature_columns_treats_them_as_missing(bundle: Bundle) -> None:
    out = bundle.scorer.score_frame(pl.DataFrame({"other": [1, 2]}))
    assert out.columns == ["other", "score", "calibrated", "ecdf"]
    assert out["score"].to_list() == [bundle.scorer.score({}).score] * 2
    assert bundle.scorer.score_frame(_frame([]).clear()).height == 0
