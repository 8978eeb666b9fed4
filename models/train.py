"""``train_bundle``: table in, bundle out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import msgspec
import polars as pl

from models.bundle import BUNDLE_FORMAT, MODEL, PIPELINE, REPORT, Manifest, RowCounts, write_bundle
from models.checks import check_features, check_schema
from models.learners.base import chain
from models.learners.booster import SCORE, BoosterLog
from models.learners.calibration import CALIBRATED, calibration_learner
from models.learners.ecdf import ecdf_learner
from models.metrics import evaluate
from models.pipeline import find_log, spec_from_logs, training_pipeline
from models.provenance import frame_digest, package_versions
from models.report import render_report
from models.schema import DEFAULT_CONFIG, FeatureDef, TrainConfig
from models.split import Periods, period_split, time_split

CALIBRATION_SLICE = (
    "the last calibration_fraction of the training period (in time order), which the booster never saw; "
    "the test period after the gap stays untouched for the metrics"
)
IN_SAMPLE_SLICE = (
    "the booster's own training rows (in-sample, asked for by the periods): ranking metrics are unaffected, "
    "calibrated probabilities are optimistic"
)


def _default_version(digest: str) -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{digest[:8]}"


def train_bundle(
    df: pl.DataFrame,
    features: Sequence[FeatureDef],
    *,
    label: str,
    time_col: str | None,
    out_dir: Path,
    name: str,
    version: str | None = None,
    config: TrainConfig = DEFAULT_CONFIG,
    periods: Periods | None = None,
    progress: bool = False,
) -> Path:
    """Train the pipeline on ``df`` and write a bundle to ``out_dir/<version>/``; returns that folder.

    Rows are split in time order (row order when ``time_col`` is None) into train / calibration / gap / test
    (see :func:`models.split.time_split`), or at the explicit boundaries of ``periods`` when given (it needs
    ``time_col``; the shares of ``config`` are then unused). Truncation, encoding, imputation and LightGBM learn
    from the train slice; calibration and the ECDF reference from the calibration slice, the end of the training
    period the booster never saw, so that the test slice stays clean for the metrics. Same data, features and config
    give the same model text. Raises ValueError, saying how to fix it, when the frame does not fit the features.
    """
    check_features(features, label=label)
    check_schema(df.schema, features, label=label, time_col=time_col)
    columns = [f.name for f in features] + [label] + ([time_col] if time_col is not None else [])
    data = df.select(columns)
    digest = frame_digest(data)
    version = version or _default_version(digest)
    if periods is not None:
        if time_col is None:
            msg = "periods need a time column; pass time_col"
            raise ValueError(msg)
        parts = period_split(data, time_col, periods)
    else:
        parts = time_split(data, time_col, config)

    pipeline = training_pipeline(
        features, label=label, schema=data.schema, time_col=time_col, config=config, progress=progress
    )
    features_fn, _, pipeline_log = pipeline(parts.train)
    scored_cal = features_fn(parts.calibration)
    calib_fn, _, calib_log = calibration_learner(label=label, method=config.calibration)(scored_cal)
    ecdf_fn, _, ecdf_log = ecdf_learner(points=config.ecdf_points)(scored_cal)
    predict = chain(features_fn, calib_fn, ecdf_fn)

    scored_test = predict(parts.test)
    y_test = scored_test.get_column(label).cast(pl.Float64).to_numpy()
    metrics = evaluate(y_test, scored_test.get_column(SCORE).to_numpy())

    logs = [pipeline_log, calib_log, ecdf_log]
    spec = spec_from_logs(features, logs)
    model_text = find_log(logs, BoosterLog).model_text
    rows = RowCounts(
        total=data.height,
        train=parts.train.height,
        calibration=parts.calibration.height,
        gap=parts.gap.height,
        test=parts.test.height,
    )
    manifest = Manifest(
        format=BUNDLE_FORMAT,
        name=name,
        version=version,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        features=list(features),
        label=label,
        time_col=time_col,
        data_digest=digest,
        rows=rows,
        metrics=metrics,
        calibration_slice=IN_SAMPLE_SLICE
        if periods is not None and periods.in_sample_calibration
        else CALIBRATION_SLICE,
        periods=periods,
        config=config,
        packages=package_versions(),
    )
    facts = {
        "name": name,
        "version": version,
        "created": manifest.created,
        "data digest": digest,
        **{f"rows {k}": str(v) for k, v in msgspec.structs.asdict(rows).items()},
        "calibration": config.calibration,
    }
    report = render_report(
        title=f"{name} {version}",
        metrics=metrics,
        facts=facts,
        label=y_test,
        score=scored_test.get_column(SCORE).to_numpy(),
        calibrated=scored_test.get_column(CALIBRATED).to_numpy(),
    )
    files = {
        MODEL: model_text.encode(),
        PIPELINE: msgspec.json.format(msgspec.json.encode(spec)) + b"\n",
        REPORT: report.encode(),
    }
    return write_bundle(Path(out_dir) / version, manifest, files)
