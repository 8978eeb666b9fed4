"""The learner contract shared by every training step.

A learner is built from keyword arguments (its hyper-parameters) and then called with a training frame. It returns
``(predict_fn, scored_df, log)``: a function that applies what was learnt to any frame, the training frame after
that function, and a typed log holding the learnt parameters and their provenance.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from models.schema import Base

PredictFn = Callable[[pl.DataFrame], pl.DataFrame]
"""Applies a fitted step to a frame and returns the transformed frame."""


class StepLog(Base, frozen=True, tag_field="step"):
    """Base of every step log; the ``step`` tag names the step in JSON."""


LearnerReturn = tuple[PredictFn, pl.DataFrame, StepLog]
Learner = Callable[[pl.DataFrame], LearnerReturn]
"""A step with its hyper-parameters bound, waiting for training data."""


def chain(*fns: PredictFn) -> PredictFn:
    """Compose predict functions left to right into one."""

    def predict(df: pl.DataFrame) -> pl.DataFrame:
        for fn in fns:
            df = fn(df)
        return df

    return predict
