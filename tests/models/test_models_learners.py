"""Each training step alone: exact frames in, exact frames and params out."""

from __future__ import annotations

import math

import lightgbm as lgb
import msgspec
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from models_synth import FEATURES, SMALL, make_frame
from polars.testing import assert_frame_equal

from models.isotonic import isotonic_apply, isotonic_fit
from models.learners.booster import booster_learner, lgb_params
from models.learners.calibration import (
    CalibrationLog,
    IsotonicParams,
    PlattParams,
    calibrate_array,
    calibration_learner,
    fit_platt,
    scalar_calibrator,
)
from models.learners.ecdf import EcdfLog, ecdf_array, ecdf_learner, fit_ecdf, scalar_ecdf
from models.learners.encoding import EncodingLog, encoding_learner
from models.learners.imputation import ImputationLog, imputation_learner
from models.learners.truncation import TruncationLog, truncation_learner

scores = st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=200)


def test_truncation_keeps_frequent_levels_and_folds_the_rest() -> None:
    df = pl.DataFrame({"c": ["a", "a", "a", "b", "b", "c", None, "d", "d", "d"]})
    predict, scored, log = truncation_learner(features=["c"], min_count=2, max_categories=1)(df)
    assert isinstance(log, TruncationLog)
    assert log.params.kept == {"c": ["a"]}  # b and d tie behind a; only the top one fits
    expected = ["a", "a", "a", "__other__", "__other__", "__other__", None, "__other__", "__other__", "__other__"]
    assert_frame_equal(scored, pl.DataFrame({"c": expected}))
    assert_frame_equal(predict(pl.DataFrame({"c": ["zzz", "a", None]})), pl.DataFrame({"c": ["__other__", "a", None]}))
    assert log.provenance.training_rows == 10


def test_truncation_orders_ties_by_level_name() -> None:
    df = pl.DataFrame({"c": ["d", "d", "a", "a", "x"]})
    _, _, log = truncation_learner(features=["c"], min_count=2, max_categories=5)(df)
    assert isinstance(log, TruncationLog)
    assert log.params.kept == {"c": ["a", "d"]}


def test_encoding_gives_sorted_codes_and_unseen_the_other_code() -> None:
    df = pl.DataFrame({"c": ["b", "a", None, "__other__"]})
    predict, scored, log = encoding_learner(features=["c"])(df)
    assert isinstance(log, EncodingLog)
    assert log.params.codes == {"c": {"__other__": 0, "a": 1, "b": 2}}
    assert_frame_equal(scored, pl.DataFrame({"c": [2.0, 1.0, None, 0.0]}))
    assert_frame_equal(predict(pl.DataFrame({"c": ["new", None]})), pl.DataFrame({"c": [0.0, None]}))


def test_imputation_fills_null_and_nan_with_the_training_median() -> None:
    df = pl.DataFrame({"x": [1.0, None, 3.0, float("nan"), 10.0], "b": [True, False, None, True, True]})
    predict, scored, log = imputation_learner(features=["x", "b"])(df)
    assert isinstance(log, ImputationLog)
    assert log.params.values == {"x": 3.0, "b": 1.0}
    assert_frame_equal(scored, pl.DataFrame({"x": [1.0, 3.0, 3.0, 3.0, 10.0], "b": [1.0, 0.0, 1.0, 1.0, 1.0]}))
    assert_frame_equal(
        predict(pl.DataFrame({"x": [None], "b": [None]}, schema={"x": pl.Float64, "b": pl.Boolean})),
        pl.DataFrame({"x": [3.0], "b": [1.0]}),
    )


def test_imputation_of_an_all_null_column_is_zero() -> None:
    df = pl.DataFrame({"x": [None, None]}, schema={"x": pl.Float64})
    _, scored, _ = imputation_learner(features=["x"])(df)
    assert scored.get_column("x").to_list() == [0.0, 0.0]


def test_isotonic_pools_violators() -> None:
    xs, ys = isotonic_fit([1, 2, 3, 4, 5], [0, 1, 0, 1, 1])
    assert isotonic_apply(xs, ys, [1, 2, 3, 4, 5, 0, 9]).tolist() == [0.0, 0.5, 0.5, 1.0, 1.0, 0.0, 1.0]
    # interpolation between blocks: halfway between x=3 (0.5) and x=4 (1.0)
    assert isotonic_apply(xs, ys, [3.5]).tolist() == [0.75]


def test_isotonic_pools_ties_in_x_first() -> None:
    xs, ys = isotonic_fit([0.2, 0.2, 0.2, 0.8], [0, 0, 1, 1])
    assert xs.tolist() == [0.2, 0.8]
    assert ys.tolist() == pytest.approx([1 / 3, 1.0])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1, allow_nan=False), st.integers(0, 1)), min_size=1, max_size=200), scores)
def test_isotonic_output_is_monotone_and_within_label_range(pairs: list[tuple[float, int]], probe: list[float]) -> None:
    xs, ys = isotonic_fit([p[0] for p in pairs], [p[1] for p in pairs])
    assert np.all(np.diff(xs) > 0)
    assert np.all(np.diff(ys) >= 0)
    out = isotonic_apply(xs, ys, sorted(probe))
    assert np.all(np.diff(out) >= -1e-12)
    assert np.all((out >= 0) & (out <= 1))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1, allow_nan=False), st.integers(0, 1)), min_size=1, max_size=100))
def test_isotonic_is_the_least_squares_fit_on_its_points(pairs: list[tuple[float, int]]) -> None:
    x = np.array([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs], dtype=float)
    xs, ys = isotonic_fit(x, y)
    fitted = isotonic_apply(xs, ys, x)
    # PAV's fit has the same mean as the labels and never a larger squared error than the best constant.
    assert fitted.mean() == pytest.approx(y.mean())
    assert np.sum((fitted - y) ** 2) <= np.sum((y.mean() - y) ** 2) + 1e-9


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["isotonic", "platt"]), st.lists(st.floats(0, 1, allow_nan=False), min_size=4, max_size=50))
def test_scalar_calibration_matches_the_vectorised_one(method: str, s: list[float]) -> None:
    y = [i % 2 for i in range(len(s))]
    df = pl.DataFrame({"score": s, "y": y})
    _, _, log = calibration_learner(label="y", method="isotonic" if method == "isotonic" else "platt")(df)
    assert isinstance(log, CalibrationLog)
    params = log.params
    one = scalar_calibrator(params)
    probe = [*s, 0.0, 1.0, 0.5, 0.123]
    many = calibrate_array(params, probe)
    assert [one(v) for v in probe] == pytest.approx(many.tolist(), abs=1e-12)
    assert isinstance(params, IsotonicParams if method == "isotonic" else PlattParams)


def test_platt_recovers_a_logistic_relation() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, 20_000)
    y = (rng.random(z.size) < 1 / (1 + np.exp(-(0.5 * z - 1)))).astype(float)
    params = fit_platt(1 / (1 + np.exp(-z)), y)
    assert params.a == pytest.approx(0.5, abs=0.05)
    assert params.b == pytest.approx(-1.0, abs=0.1)


@settings(max_examples=200, deadline=None)
@given(scores, scores, st.integers(2, 50))
def test_ecdf_is_monotone_and_bounded(reference: list[float], probe: list[float], points: int) -> None:
    params = fit_ecdf(reference, points)
    probe = sorted([*probe, -1.0, 2.0, *reference])
    out = ecdf_array(params, probe)
    assert np.all(np.diff(out) >= 0)
    assert np.all((out >= 0) & (out <= 1))
    assert out[0] == 0.0
    assert out[-1] == 1.0
    one = scalar_ecdf(params)
    assert [one(v) for v in probe] == out.tolist()


def test_ecdf_interpolates_between_the_reference_quantiles() -> None:
    # quantile i sits at probability i / (points - 1); below the smallest 0, from the largest on 1
    params = fit_ecdf([0.1, 0.2, 0.3, 0.4, 0.5], 5)
    assert ecdf_array(params, [0.05, 0.1, 0.3, 0.35, 0.5, 0.9]).tolist() == pytest.approx(
        [0.0, 0.0, 0.5, 0.625, 1.0, 1.0]
    )


def test_ecdf_counts_tied_reference_scores_as_at_or_below() -> None:
    params = fit_ecdf([0.2, 0.2, 0.2, 0.2, 0.6], 5)
    assert ecdf_array(params, [0.2, 0.4]).tolist() == pytest.approx([0.75, 0.875])


def test_ecdf_learner_logs_its_reference() -> None:
    df = pl.DataFrame({"score": [0.3, 0.1, 0.2]})
    _, scored, log = ecdf_learner(points=3)(df)
    assert isinstance(log, EcdfLog)
    assert log.params.quantiles == [0.1, 0.2, 0.3]
    assert log.params.reference_rows == 3
    assert scored.get_column("ecdf").to_list() == [1.0, 0.0, 0.5]
    assert not math.isnan(scored.get_column("ecdf").sum())


def test_max_depth_bounds_every_tree_and_is_left_out_when_unlimited() -> None:
    assert "max_depth" not in lgb_params(SMALL)
    frame = make_frame(1500).with_columns(pl.col(f.name).cast(pl.Float64) for f in FEATURES if f.kind == "numeric")
    numeric = [f for f in FEATURES if f.kind == "numeric"]
    config = msgspec.structs.replace(SMALL, max_depth=2)
    _, _, log = booster_learner(features=numeric, label="fraud", config=config)(frame)
    assert log.params.params["max_depth"] == 2

    def depth(node: dict[str, object]) -> int:
        if "leaf_index" in node:
            return 0
        return 1 + max(depth(node["left_child"]), depth(node["right_child"]))  # type: ignore[arg-type]

    trees = lgb.Booster(model_str=log.model_text).dump_model()["tree_info"]
    assert max(depth(t["tree_structure"]) for t in trees) <= 2
