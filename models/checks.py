"""Checks run when a training pipeline is built: each failure is a ValueError that says how to fix it."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from models.learners.booster import SCORE
from models.learners.calibration import CALIBRATED
from models.learners.ecdf import ECDF
from models.schema import FeatureDef

RESERVED = (SCORE, CALIBRATED, ECDF)
"""Column names the scorer adds; features may not use them."""

_LGB_REFUSED = set('",:[]{}')


def check_features(features: Sequence[FeatureDef], *, label: str) -> None:
    """Refuse feature lists LightGBM or the bundle cannot represent."""
    if not features:
        msg = "features is empty; pass at least one FeatureDef"
        raise ValueError(msg)
    seen: set[str] = set()
    for f in features:
        if f.name in seen:
            msg = f"feature {f.name!r} is listed twice; keep one FeatureDef per column"
            raise ValueError(msg)
        seen.add(f.name)
        if f.name in RESERVED:
            msg = (
                f"feature {f.name!r} uses a name reserved for model outputs ({', '.join(RESERVED)}); rename the column"
            )
            raise ValueError(msg)
        if not f.name or any(c.isspace() or c in _LGB_REFUSED for c in f.name):
            msg = (
                f'feature {f.name!r} is empty or holds whitespace or one of ",:[]{{}}, which LightGBM refuses '
                "in feature names; rename the column"
            )
            raise ValueError(msg)
    if label in seen:
        msg = f"label {label!r} is also listed as a feature; remove it from the features"
        raise ValueError(msg)


def check_schema(schema: pl.Schema, features: Sequence[FeatureDef], *, label: str, time_col: str | None) -> None:
    """Refuse a training frame whose columns do not match the feature definitions."""
    for f in features:
        dtype = schema.get(f.name)
        if dtype is None:
            msg = f"feature {f.name!r} is not a column of the training frame; add the column or drop its FeatureDef"
            raise ValueError(msg)
        if f.kind == "categorical" and dtype != pl.String:
            msg = (
                f"categorical feature {f.name!r} is a {dtype} column, expected String; "
                f"cast it with pl.col({f.name!r}).cast(pl.String) or declare it numeric"
            )
            raise ValueError(msg)
        if f.kind == "numeric" and not (dtype.is_numeric() or dtype == pl.Boolean):
            msg = (
                f"numeric feature {f.name!r} is a {dtype} column, expected an integer, float or boolean column; "
                "cast it or declare it categorical"
            )
            raise ValueError(msg)
    label_type = schema.get(label)
    if label_type is None:
        msg = f"label {label!r} is not a column of the training frame; pass the name of the 0/1 target column"
        raise ValueError(msg)
    if not (label_type.is_integer() or label_type == pl.Boolean):
        msg = (
            f"label {label!r} is a {label_type} column, expected integers 0/1 or booleans; "
            f"map it first, e.g. pl.col({label!r}).cast(pl.Int8)"
        )
        raise ValueError(msg)
    if time_col is not None:
        time_type = schema.get(time_col)
        if time_type is None:
            msg = (
                f"time column {time_col!r} is not a column of the training frame; "
                "pass time_col=None to split by row order"
            )
            raise ValueError(msg)
        if not (time_type.is_temporal() or time_type.is_numeric()):
            msg = (
                f"time column {time_col!r} is a {time_type} column, expected a date, datetime or number; "
                f"parse it first, e.g. pl.col({time_col!r}).str.to_datetime()"
            )
            raise ValueError(msg)


def check_label(df: pl.DataFrame, label: str) -> None:
    """Refuse labels that are not 0/1 without nulls, or that hold a single class."""
    values = df.get_column(label).cast(pl.Int64)
    bad = values.filter(~values.is_in([0, 1]) | values.is_null()).unique(maintain_order=True).head(5).to_list()
    if bad:
        msg = f"label {label!r} must hold only 0 and 1 without nulls, found {bad}; map or drop those rows first"
        raise ValueError(msg)
    classes = values.unique().sort().to_list()
    if classes != [0, 1]:
        msg = (
            f"label {label!r} holds only the class {classes} in {df.height} training rows; "
            "the model needs both 0 and 1: widen the training period"
        )
        raise ValueError(msg)
