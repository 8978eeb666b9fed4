"""Pipeline checks (exact messages), composition and the time split."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from models_synth import FEATURES, SMALL

from models import FeatureDef, TrainConfig
from models.learners.base import chain
from models.pipeline import PipelineLog, training_pipeline
from models.split import time_split

NUM = FeatureDef(name="x", kind="numeric")
CAT = FeatureDef(name="c", kind="categorical")
OK = pl.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"], "y": [0, 1]})


def _build(df: pl.DataFrame, features: tuple[FeatureDef, ...] = (NUM, CAT), label: str = "y") -> None:
    training_pipeline(features, label=label, schema=df.schema, config=SMALL)(df)


@pytest.mark.parametrize(
    ("df", "features", "message"),
    [
        (
            OK.drop("c"),
            (NUM, CAT),
            "feature 'c' is not a column of the training frame; add the column or drop its FeatureDef",
        ),
        (
            OK.with_columns(pl.col("x").alias("c")),
            (NUM, CAT),
            "categorical feature 'c' is a Float64 column, expected String; "
            "cast it with pl.col('c').cast(pl.String) or declare it numeric",
        ),
        (
            OK,
            (FeatureDef(name="c", kind="numeric"),),
            "numeric feature 'c' is a String column, expected an integer, float or boolean column; "
            "cast it or declare it categorical",
        ),
        (OK, (), "features is empty; pass at least one FeatureDef"),
        (OK, (NUM, NUM), "feature 'x' is listed twice; keep one FeatureDef per column"),
        (
            OK.rename({"x": "score"}),
            (FeatureDef(name="score", kind="numeric"),),
            "feature 'score' uses a name reserved for model outputs (score, calibrated, ecdf); rename the column",
        ),
        (
            OK.rename({"x": "a b"}),
            (FeatureDef(name="a b", kind="numeric"),),
            "feature 'a b' is empty or holds whitespace or one of \",:[]{}, which LightGBM refuses in feature names; "
            "rename the column",
        ),
    ],
)
def test_build_errors(df: pl.DataFrame, features: tuple[FeatureDef, ...], message: str) -> None:
    with pytest.raises(ValueError) as info:
        training_pipeline(features, label="y", schema=df.schema, config=SMALL)
    assert str(info.value) == message


def test_label_errors() -> None:
    with pytest.raises(ValueError) as info:
        _build(OK, label="fraud")
    assert str(info.value) == (
        "label 'fraud' is not a column of the training frame; pass the name of the 0/1 target column"
    )
    with pytest.raises(ValueError) as info:
        _build(OK.with_columns(pl.col("y").cast(pl.String)))
    assert str(info.value) == (
        "label 'y' is a String column, expected integers 0/1 or booleans; map it first, e.g. pl.col('y').cast(pl.Int8)"
    )
    with pytest.raises(ValueError) as info:
        _build(OK.with_columns(pl.Series("y", [2, None])))
    assert (
        str(info.value)
        == "label 'y' must hold only 0 and 1 without nulls, found [2, None]; map or drop those rows first"
    )
    with pytest.raises(ValueError) as info:
        _build(OK.with_columns(pl.Series("y", [1, 1])))
    assert str(info.value) == (
        "label 'y' holds only the class [1] in 2 training rows; the model needs both 0 and 1: widen the training period"
    )
    with pytest.raises(ValueError) as info:
        training_pipeline((NUM,), label="x", schema=OK.schema)
    assert str(info.value) == "label 'x' is also listed as a feature; remove it from the features"


def test_time_column_errors() -> None:
    with pytest.raises(ValueError) as info:
        training_pipeline((NUM,), label="y", schema=OK.schema, time_col="ts")
    assert str(info.value) == (
        "time column 'ts' is not a column of the training frame; pass time_col=None to split by row order"
    )
    with pytest.raises(ValueError) as info:
        training_pipeline((NUM,), label="y", schema=OK.schema, time_col="c")
    assert str(info.value) == (
        "time column 'c' is a String column, expected a date, datetime or number; "
        "parse it first, e.g. pl.col('c').str.to_datetime()"
    )


def test_config_refuses_no_test_period() -> None:
    with pytest.raises(ValueError) as info:
        TrainConfig(train_fraction=0.9, gap_fraction=0.1)
    assert str(info.value) == (
        "train_fraction (0.9) + gap_fraction (0.1) must be below 1 to leave rows for the test period; lower one of them"
    )


def test_pipeline_logs_every_step_with_provenance(frame: pl.DataFrame) -> None:
    predict, scored, log = training_pipeline(FEATURES, label="fraud", schema=frame.schema, config=SMALL)(frame)
    assert isinstance(log, PipelineLog)
    assert [type(s).__name__ for s in log.steps] == ["TruncationLog", "EncodingLog", "ImputationLog", "BoosterLog"]
    assert all(s.provenance.training_rows == frame.height for s in log.steps)  # type: ignore[attr-defined]
    assert scored.get_column("score").to_list() == predict(frame).get_column("score").to_list()
    assert chain()(frame) is frame


def test_time_split_is_ordered_and_never_splits_a_timestamp() -> None:
    start = dt.datetime(2026, 1, 1)
    times = [start + dt.timedelta(hours=h // 3) for h in range(100)]  # three rows per hour
    df = pl.DataFrame({"t": list(reversed(times)), "i": list(range(100))})
    parts = time_split(df, "t", TrainConfig())
    assert sum(p.height for p in parts) == 100
    assert parts.train["t"].max() < parts.calibration["t"].min()  # type: ignore[operator]
    assert parts.calibration["t"].max() < parts.test["t"].min()  # type: ignore[operator]
    assert parts.gap.height > 0
    assert parts.test["t"].is_sorted()


def test_row_order_split_without_time_column() -> None:
    df = pl.DataFrame({"i": list(range(100))})
    parts = time_split(df, None, TrainConfig())
    assert parts.train["i"].to_list() == list(range(56))
    assert parts.calibration["i"].to_list() == list(range(56, 70))
    assert parts.gap["i"].to_list() == list(range(70, 75))
    assert parts.test["i"].to_list() == list(range(75, 100))
