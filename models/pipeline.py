"""Composing learners into a checked training pipeline, and the data-only spec that rebuilds its predict function."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeVar

import lightgbm as lgb
import polars as pl

from models.checks import check_features, check_label, check_schema
from models.learners.base import Learner, LearnerReturn, PredictFn, StepLog, chain
from models.learners.booster import BoosterLog, BoosterParams, booster_learner, booster_predict
from models.learners.calibration import CalibrationLog, CalibrationParams, calibration_predict
from models.learners.ecdf import EcdfLog, EcdfParams, ecdf_predict
from models.learners.encoding import EncodingLog, EncodingParams, encoding_learner, encoding_predict
from models.learners.imputation import ImputationLog, ImputationParams, imputation_learner, imputation_predict
from models.learners.truncation import TruncationLog, TruncationParams, truncation_learner, truncation_predict
from models.schema import DEFAULT_CONFIG, Base, FeatureDef, TrainConfig

PIPELINE_FORMAT: Literal[1] = 1

_Log = TypeVar("_Log", bound=StepLog)


class PipelineLog(StepLog, frozen=True, tag="pipeline"):
    """Log of a composed pipeline: the logs of its steps, in order."""

    steps: tuple[StepLog, ...]
    """One log per step."""


class PipelineSpec(Base, frozen=True):
    """Everything ``pipeline.json`` holds: with the model text it rebuilds the exact predict function."""

    format: Literal[1]
    """Version of this layout."""
    features: list[FeatureDef]
    """Features in booster column order."""
    truncation: TruncationParams
    """Levels kept per categorical feature."""
    encoding: EncodingParams
    """Codes per categorical level."""
    imputation: ImputationParams
    """Fill values per numeric feature."""
    booster: BoosterParams
    """How the booster was trained."""
    calibration: CalibrationParams
    """Isotonic breakpoints or Platt coefficients."""
    ecdf: EcdfParams
    """Raw-score quantiles of the reference slice."""


def compose(*learners: Learner) -> Learner:
    """fklearn's ``build_pipeline``: fit each learner on the previous one's output; predict runs them in order."""

    def learn(df: pl.DataFrame) -> LearnerReturn:
        fns: list[PredictFn] = []
        logs: list[StepLog] = []
        for learner in learners:
            fn, df, log = learner(df)
            fns.append(fn)
            logs.append(log)
        return chain(*fns), df, PipelineLog(steps=tuple(logs))

    return learn


def training_pipeline(
    features: Sequence[FeatureDef],
    *,
    label: str,
    schema: pl.Schema,
    time_col: str | None = None,
    config: TrainConfig = DEFAULT_CONFIG,
    progress: bool = False,
) -> Learner:
    """The checked feature-and-booster pipeline: truncation, encoding, imputation, LightGBM.

    Checks the features against ``schema`` now, and the label values when fitted; raises ValueError saying how to
    fix the problem. Calibration and ECDF are fitted apart, on a slice the booster never saw (see ``train_bundle``).
    """
    check_features(features, label=label)
    check_schema(schema, features, label=label, time_col=time_col)
    categorical = [f.name for f in features if f.kind == "categorical"]
    numeric = [f.name for f in features if f.kind == "numeric"]
    steps = compose(
        truncation_learner(
            features=categorical, min_count=config.min_category_count, max_categories=config.max_categories
        ),
        encoding_learner(features=categorical),
        imputation_learner(features=numeric),
        booster_learner(features=features, label=label, config=config, progress=progress),
    )

    def learn(df: pl.DataFrame) -> LearnerReturn:
        check_label(df, label)
        return steps(df)

    return learn


def flatten_logs(logs: Sequence[StepLog]) -> list[StepLog]:
    """The step logs in order, with pipeline logs replaced by their steps."""
    flat: list[StepLog] = []
    for log in logs:
        flat.extend(flatten_logs(log.steps) if isinstance(log, PipelineLog) else (log,))
    return flat


def find_log(logs: Sequence[StepLog], kind: type[_Log]) -> _Log:
    """The first log of type ``kind`` among ``logs`` (pipeline logs are searched through)."""
    for log in flatten_logs(logs):
        if isinstance(log, kind):
            return log
    msg = f"no {kind.__name__} among the fitted steps; fit the feature pipeline, calibration and ECDF first"
    raise ValueError(msg)


def spec_from_logs(features: Sequence[FeatureDef], logs: Sequence[StepLog]) -> PipelineSpec:
    """Collect the learnt parameters of the fitted steps into a :class:`PipelineSpec`."""
    truncation, encoding, imputation = (
        find_log(logs, TruncationLog),
        find_log(logs, EncodingLog),
        find_log(logs, ImputationLog),
    )
    booster, calibration, ecdf = find_log(logs, BoosterLog), find_log(logs, CalibrationLog), find_log(logs, EcdfLog)
    return PipelineSpec(
        format=PIPELINE_FORMAT,
        features=list(features),
        truncation=truncation.params,
        encoding=encoding.params,
        imputation=imputation.params,
        booster=booster.params,
        calibration=calibration.params,
        ecdf=ecdf.params,
    )


def conform(features: Sequence[FeatureDef]) -> PredictFn:
    """Predict function giving a scoring frame every feature column with the training dtype; absent ones are null."""
    kinds = {f.name: (pl.String if f.kind == "categorical" else pl.Float64) for f in features}

    def predict(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(
            (pl.col(name) if name in df.columns else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in kinds.items()
        )

    return predict


def spec_predict(spec: PipelineSpec, booster: lgb.Booster) -> PredictFn:
    """The full predict function (features → score, calibrated, ecdf) rebuilt from data."""
    return chain(
        conform(spec.features),
        truncation_predict(spec.truncation),
        encoding_predict(spec.encoding),
        imputation_predict(spec.imputation),
        booster_predict(booster, spec.booster.feature_names),
        calibration_predict(spec.calibration),
        ecdf_predict(spec.ecdf),
    )
