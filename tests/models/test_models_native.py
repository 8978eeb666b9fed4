"""The compiled model stage (``models/_forest.c``) against LightGBM and against the Python + C API path."""

from __future__ import annotations

import dataclasses
import logging
import math
import types
from array import array
from decimal import Decimal
from pathlib import Path
from typing import Any

import lightgbm as lgb
import msgspec
import numpy as np
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from models_synth import COUNTRIES, FEATURES, SMALL, train_synth

from models import Bundle, Score, ScoringError, load_bundle, native
from models import scorer as scorer_module
from models.forest import ForestTables, UnsupportedModel, build_forest, flatten
from models.learners.calibration import IsotonicParams
from models.scorer import Scorer

# Encoded rows as the trees see them: NaN, tiny values LightGBM reads as 0, category codes in and out of range.
cells = st.one_of(
    st.just(math.nan),
    st.integers(-3, 40).map(float),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from([0.0, -0.0, 1e-40, -1e-40, 1e-35, 0.5, -0.5, 3.0e9, -3.0e9, math.inf, -math.inf]),
)
vectors = st.lists(cells, min_size=len(FEATURES), max_size=len(FEATURES))

ABSENT = object()
value_rows = st.fixed_dictionaries(
    {
        "amount": st.one_of(st.just(ABSENT), st.none(), st.just(math.nan), st.floats(-1e5, 1e5, allow_nan=False)),
        "velocity_1h": st.one_of(st.just(ABSENT), st.none(), st.integers(-5, 40), st.just(math.nan)),
        "new_device": st.one_of(st.just(ABSENT), st.none(), st.booleans()),
        "country": st.one_of(st.just(ABSENT), st.none(), st.sampled_from([*COUNTRIES, "UNSEEN", "__other__", ""])),
        "channel": st.one_of(st.just(ABSENT), st.none(), st.sampled_from(["ecommerce", "pos", "moto", "phone"])),
    }
).map(lambda r: {k: v for k, v in r.items() if v is not ABSENT})


@pytest.fixture(scope="module")
def platt_bundle(frame: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """A second bundle, calibrated with Platt scaling instead of isotonic breakpoints."""
    config = msgspec.structs.replace(SMALL, calibration="platt")
    return load_bundle(train_synth(frame, tmp_path_factory.mktemp("platt"), "platt", config))


def _python_twin(bundle: Bundle) -> Scorer:
    return Scorer(bundle.scorer.spec, (bundle.path / "model.txt").read_text(), use_native=False)


def test_the_stage_is_compiled_here(bundle: Bundle) -> None:
    # CI machines have a C compiler: a silent fallback to the C API would hide a broken build
    assert native.load() is not None
    assert bundle.scorer.native is not None
    tables = flatten((bundle.path / "model.txt").read_text())
    assert len(tables.roots) == bundle.scorer.booster.num_trees()
    assert any(d & 1 for d in tables.decisions), "the synthetic model should split on a categorical feature"


@settings(max_examples=300, deadline=None)
@given(vectors)
def test_trees_equal_booster_predict(bundle: Bundle, values: list[float]) -> None:
    assert bundle.scorer.native is not None
    expected = bundle.scorer.booster.predict(np.array([values]), num_threads=1)[0]
    assert bundle.scorer.native.predict(array("d", values)) == pytest.approx(expected, abs=1e-9, rel=0)


@settings(max_examples=150, deadline=None)
@given(value_rows)
def test_stage_equals_the_python_path(bundle: Bundle, platt_bundle: Bundle, row: dict[str, Any]) -> None:
    for b in (bundle, platt_bundle):
        twin = _python_twin(b)
        assert twin.native is None
        got, want = b.scorer.score(row, reasons=0), twin.score(row, reasons=0)
        assert got.score == pytest.approx(want.score, abs=1e-12, rel=0)
        assert got.calibrated == pytest.approx(want.calibrated, abs=1e-12, rel=0)
        assert got.ecdf == pytest.approx(want.ecdf, abs=1e-12, rel=0)
        assert list(b.scorer.vector(row)) == pytest.approx(list(twin.vector(row)), nan_ok=True, abs=0, rel=0)


def test_platt_bundle_is_platt(platt_bundle: Bundle) -> None:
    assert platt_bundle.scorer.spec.calibration.__class__.__name__ == "PlattParams"


def test_any_mapping_is_read_like_a_dict(bundle: Bundle) -> None:
    row = {"amount": 250.0, "velocity_1h": 3, "country": "NG", "channel": "pos"}
    assert bundle.scorer.score(types.MappingProxyType(row)) == bundle.scorer.score(row)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"country": 76}, "categorical feature 'country' expects a str, got int"),
        ({"amount": b"12"}, "numeric feature 'amount' expects an int, float or bool, got bytes"),
        ({"amount": 10**400}, "numeric feature 'amount' expects an int, float or bool, got int"),
        ({"amount": object()}, "numeric feature 'amount' expects an int, float or bool, got object"),
    ],
)
def test_wrong_types_name_the_feature(bundle: Bundle, row: dict[str, Any], message: str) -> None:
    with pytest.raises(ScoringError) as info:
        bundle.scorer.score(row)
    assert str(info.value) == message
    with pytest.raises(ScoringError):
        bundle.scorer.vector(row)


def _forest(t: ForestTables, names: tuple[str, ...]) -> native.NativeForest:
    """The compiled stage over `t` with no encoding (every feature a number, filled with 0) and identity
    calibration: rows go to the trees as they are."""
    module = native.load()
    assert module is not None
    return build_forest(
        module, t, names=names, codes=[None] * len(names), fills=[0.0] * len(names),
        calibration=IsotonicParams(x=[0.0, 1.0], y=[0.0, 1.0]), quantiles=[0.0, 1.0], error=ScoringError,
        result=Score,
    )  # fmt: skip


def test_malformed_tables_are_refused_not_read(bundle: Bundle) -> None:
    t = flatten((bundle.path / "model.txt").read_text())
    bad = array("i", t.lefts)
    bad[0] = len(t.features) + 5  # a child past the last node
    with pytest.raises(ValueError, match="node 0: child"):
        _forest(dataclasses.replace(t, lefts=bad), bundle.scorer.feature_names)
    forest = _forest(t, bundle.scorer.feature_names)
    with pytest.raises(ValueError, match="expected a buffer of 5 float64"):
        forest.predict(array("d", [0.0]))


def _raw_forest(booster: lgb.Booster) -> native.NativeForest:
    """The compiled trees of a plain LightGBM booster."""
    t = flatten(booster.model_to_string())
    return _forest(t, tuple(f"f{j}" for j in range(t.num_features)))


def _raw_data(n: int = 3000) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Numbers with NaNs, zeros and negatives, and a 70-level category (bitsets of three words) with NaNs."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(n, 4))
    x[rng.random(n) < 0.2, 0] = np.nan
    x[rng.random(n) < 0.3, 1] = 0.0
    x[:, 2] = rng.integers(0, 70, n).astype(float)
    x[rng.random(n) < 0.1, 2] = np.nan
    logit = np.nan_to_num(x[:, 0]) + (x[:, 1] == 0) - 1.5 * np.isin(x[:, 2], [3, 40, 41, 66]) + 0.5 * x[:, 3]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return x, y


SPECIAL = [math.nan, 0.0, -0.0, 1e-40, -1e-40, 1.0000000180025095e-35, -1.0000000180025095e-35, 33.0, 64.9, 69.0, 95.0]
raw_rows = st.lists(
    st.one_of(st.sampled_from(SPECIAL), st.floats(-4, 4, allow_nan=False), st.integers(-2, 80).map(float)),
    min_size=4,
    max_size=4,
)


@pytest.fixture(scope="module", params=[False, True], ids=["nan_missing", "zero_as_missing"])
def raw_booster(request: pytest.FixtureRequest) -> lgb.Booster:
    x, y = _raw_data()
    params = {"objective": "binary", "verbose": -1, "num_leaves": 15, "min_data_per_group": 5, "cat_smooth": 1,
              "max_cat_to_onehot": 2, "zero_as_missing": request.param, "sigmoid": 0.7, "seed": 1}  # fmt: skip
    return lgb.train(params, lgb.Dataset(x, y, categorical_feature=[2]), num_boost_round=40)


def test_raw_model_exercises_every_decision_kind(raw_booster: lgb.Booster) -> None:
    t = flatten(raw_booster.model_to_string())
    kinds = {(d & 1, (d >> 2) & 3, (d >> 1) & 1) for d in t.decisions}
    assert any(cat for cat, _, _ in kinds), "a categorical split"
    assert any(missing > 0 and not cat for cat, missing, _ in kinds), "a numeric split with a missing type"
    assert any(n > 1 for n in t.cat_lens), "a bitset of more than one word"
    assert t.sigmoid == 0.7


@settings(max_examples=300, deadline=None)
@given(raw_rows)
@example([0.3, -1.0000000180025095e-35, 5.0, 0.1])  # at a -kZeroThreshold split: LightGBM reads the value as 0
def test_trees_equal_booster_predict_on_missing_and_zero_splits(raw_booster: lgb.Booster, values: list[float]) -> None:
    forest = _raw_forest(raw_booster)
    expected = raw_booster.predict(np.array([values]), num_threads=1)[0]
    assert forest.predict(array("d", values)) == pytest.approx(expected, abs=1e-9, rel=0)


@settings(max_examples=150, deadline=None)
@given(raw_rows)
@example([0.3, -1.0000000180025095e-35, 5.0, 0.1])
def test_compiled_reasons_equal_pred_contrib(raw_booster: lgb.Booster, values: list[float]) -> None:
    forest = _raw_forest(raw_booster)
    t = flatten(raw_booster.model_to_string())
    assert forest.enable_reasons(t.internal_counts, t.leaf_counts, 64)
    expected = raw_booster.predict(np.array([values]), pred_contrib=True, num_threads=1)[0]
    np.testing.assert_allclose(forest.contributions(array("d", values)), expected, rtol=0, atol=1e-9)


def test_reasons_fall_back_to_lightgbm_for_deeper_trees(bundle: Bundle, monkeypatch: pytest.MonkeyPatch) -> None:
    module = native.load()
    assert module is not None
    t = flatten((bundle.path / "model.txt").read_text())
    assert bundle.scorer.native is not None
    assert not bundle.scorer.native.enable_reasons(t.internal_counts, t.leaf_counts, 1)  # every path is longer
    monkeypatch.setattr(scorer_module, "REASON_MAX_DEPTH", 1)
    capped = Scorer(bundle.scorer.spec, (bundle.path / "model.txt").read_text())
    assert capped.native is not None
    with pytest.raises(RuntimeError, match="reasons are not enabled"):
        capped.native.contributions(capped.vector({}))
    row = {"amount": 900.0, "velocity_1h": 6, "new_device": True, "country": "NG", "channel": "ecommerce"}
    for got, want in zip(capped.reasons(row, 5), bundle.scorer.reasons(row, 5), strict=True):
        assert got.feature == want.feature
        assert got.contribution == pytest.approx(want.contribution, abs=1e-9, rel=0)


def test_regression_models_are_left_to_lightgbm(tmp_path: Path, bundle: Bundle) -> None:
    x = np.random.default_rng(0).normal(size=(200, 5))
    booster = lgb.train({"objective": "regression", "verbose": -1}, lgb.Dataset(x, x[:, 0]), num_boost_round=3)
    with pytest.raises(UnsupportedModel, match="only binary"):
        flatten(booster.model_to_string())


def test_no_compiler_falls_back_to_the_c_api(
    bundle: Bundle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("FRAUDGATE_NATIVE_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "false")  # a compiler that always fails
    with caplog.at_level(logging.WARNING, logger="models.native"):
        scorer = Scorer(bundle.scorer.spec, (bundle.path / "model.txt").read_text())
    assert scorer.native is None
    assert "compiled model stage unavailable" in caplog.text
    row = {"amount": 250.0, "country": "NG"}
    assert scorer.score(row, reasons=0) == bundle.scorer.score(row, reasons=0)
    for got, want in zip(scorer.reasons(row, 5), bundle.scorer.reasons(row, 5), strict=True):
        assert got.feature == want.feature  # LightGBM's TreeSHAP and the compiled one agree but for the last bits
        assert got.contribution == pytest.approx(want.contribution, abs=1e-9, rel=0)


def test_build_is_cached_by_source_and_compiler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("FRAUDGATE_NATIVE_CACHE", str(tmp_path))
    module = native.load()
    assert module is not None
    built = list(tmp_path.glob("_fgforest-*"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    monkeypatch.setattr(native, "_state", {})
    assert native.load() is not None
    assert built[0].stat().st_mtime_ns == stamp  # loaded from the cache, not rebuilt


def test_a_model_the_stage_refuses_is_scored_through_the_c_api(
    bundle: Bundle, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    module = native.load()
    assert module is not None
    wide = ForestTables(sigmoid=1.0, num_features=module.MAX_FEATURES + 1)
    with pytest.raises(ValueError, match="1 to 1024"):  # rows live on the C stack: wider models are refused
        _forest(wide, tuple(f"f{j}" for j in range(wide.num_features)))

    def refuse(*_: Any) -> None:
        raise ValueError("names and codes must be tuples of the same length, 1 to 1024")

    monkeypatch.setattr(Scorer, "_new_forest", refuse)
    with caplog.at_level(logging.WARNING, logger="models.scorer"):
        scorer = Scorer(bundle.scorer.spec, (bundle.path / "model.txt").read_text())
    assert scorer.native is None and "model not compiled" in caplog.text
    row = {"amount": 250.0, "country": "NG"}
    assert scorer.score_row(row) == bundle.scorer.score_row(row)


# Values of every type a caller might pass, right or wrong: both paths must give the same number or the same error.
any_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.sampled_from([*COUNTRIES, "pos", "ecommerce"]),
    st.builds(np.float32, st.floats(-1e6, 1e6, width=32)),
    st.builds(np.int64, st.integers(-(2**40), 2**40)),
    st.builds(np.bool_, st.booleans()),
    st.builds(np.str_, st.sampled_from(COUNTRIES)),
    st.builds(Decimal, st.integers(-1000, 1000)),
    st.just(b"12"),
    st.just([1.0]),
)
any_rows = st.dictionaries(st.sampled_from([f.name for f in FEATURES]), any_value, max_size=len(FEATURES))


def _outcome(fn: Any, row: dict[str, Any]) -> Any:
    try:
        return ("ok", fn(row))
    except ScoringError as exc:
        return ("error", str(exc))


@settings(max_examples=300, deadline=None)
@given(any_rows)
def test_any_value_gets_the_same_number_or_error_on_both_paths(bundle: Bundle, row: dict[str, Any]) -> None:
    twin = _python_twin(bundle)
    got, want = _outcome(bundle.scorer.score_row, row), _outcome(twin.score_row, row)
    if want[0] == "error" or got[0] == "error":
        # both name the first wrong feature in column order, in the same words
        assert got == want
        return
    assert got[1].score == pytest.approx(want[1].score, abs=1e-12, rel=0)
    assert got[1].ecdf == pytest.approx(want[1].ecdf, abs=1e-12, rel=0)


def test_a_read_only_cache_falls_back_to_the_temp_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_build = native.build

    def read_only_home(target: Path, compiler: list[str]) -> None:
        if "home" in target.parts:
            raise PermissionError(13, "Read-only file system", str(target))
        real_build(target, compiler)

    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("FRAUDGATE_NATIVE_CACHE", str(tmp_path / "home" / "cache"))
    monkeypatch.setattr(native, "build", read_only_home)
    monkeypatch.setattr(native.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    assert native.load() is not None
    assert len(list((tmp_path / "tmp").glob("fraudgate-native-*/_fgforest-*"))) == 1
