"""Time-ordered split into booster-training, calibration, gap and test slices; never random."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import polars as pl

from models.schema import Base, TrainConfig

_ROW = "__fraudgate_row__"


class Split(NamedTuple):
    """The slices of one training frame, each in time order."""

    train: pl.DataFrame
    """Fits truncation, encoding, imputation and the booster."""
    calibration: pl.DataFrame
    """End of the training period: fits calibration and the ECDF reference, unseen by the booster."""
    gap: pl.DataFrame
    """Dropped, so that labels maturing late cannot leak from training into test."""
    test: pl.DataFrame
    """After the gap: metrics and the report."""


class Periods(Base, frozen=True):
    """Explicit boundaries on the time column, for protocols that fix their periods (an external benchmark).

    Rows before ``calibration_start`` train the booster, ``[calibration_start, gap_start)`` fit calibration and the
    ECDF, ``[gap_start, test_start)`` are dropped and ``test_start`` on is the test period. With
    ``calibration_start == gap_start`` there is no held-out slice: calibration and the ECDF are fitted on the
    booster's own training rows (in-sample), which leaves the ranking (AUC, average precision) untouched but makes
    the calibrated probabilities optimistic; the manifest says so.
    """

    calibration_start: dt.datetime
    """First time of the calibration slice (end of the booster's rows)."""
    gap_start: dt.datetime
    """First time of the gap (end of the training period)."""
    test_start: dt.datetime
    """First time of the test period."""

    def __post_init__(self) -> None:
        """Refuse boundaries out of order."""
        if not self.calibration_start <= self.gap_start <= self.test_start:
            msg = (
                f"periods out of order: calibration_start {self.calibration_start}, gap_start {self.gap_start}, "
                f"test_start {self.test_start}; they must not decrease"
            )
            raise ValueError(msg)

    @property
    def in_sample_calibration(self) -> bool:
        """True when calibration is fitted on the booster's own rows."""
        return self.calibration_start == self.gap_start


def period_split(df: pl.DataFrame, time_col: str, periods: Periods) -> Split:
    """Split by the explicit boundaries of ``periods`` (see :class:`Periods`), each slice in time order."""
    if (nulls := df.get_column(time_col).null_count()) != 0:
        msg = f"time column {time_col!r} has {nulls} nulls; drop or fill them before training"
        raise ValueError(msg)
    dtype = df.schema[time_col]
    ordered = df.with_row_index(_ROW).sort([time_col, _ROW])

    def at(t: dt.datetime) -> pl.Expr:
        return pl.lit(t).cast(dtype)

    col = pl.col(time_col)
    train = ordered.filter(col < at(periods.calibration_start))
    calibration = (
        train
        if periods.in_sample_calibration
        else ordered.filter((col >= at(periods.calibration_start)) & (col < at(periods.gap_start)))
    )
    parts = Split(
        train=train,
        calibration=calibration,
        gap=ordered.filter((col >= at(periods.gap_start)) & (col < at(periods.test_start))),
        test=ordered.filter(col >= at(periods.test_start)),
    )
    for name in ("train", "calibration", "test"):
        if getattr(parts, name).height == 0:
            msg = f"the {name} slice is empty for {periods} on {time_col!r}; check the periods against the data"
            raise ValueError(msg)
    return Split(*(part.drop(_ROW) for part in parts))


def time_split(df: pl.DataFrame, time_col: str | None, config: TrainConfig) -> Split:
    """Split by time (or by row order when ``time_col`` is None) at shares of the rows in time order.

    Boundaries are times, not positions: rows with the same time always land in the same slice.
    """
    if time_col is not None and (nulls := df.get_column(time_col).null_count()):
        msg = f"time column {time_col!r} has {nulls} nulls; drop or fill them before training"
        raise ValueError(msg)
    key = time_col if time_col is not None else _ROW
    ordered = df.with_row_index(_ROW).sort([key, _ROW])
    times = ordered.get_column(key)
    n = ordered.height

    def cut(share: float) -> pl.Expr:
        return pl.lit(times[min(round(n * share), n - 1)], dtype=times.dtype)

    t_cal = cut(config.train_fraction * (1 - config.calibration_fraction))
    t_gap = cut(config.train_fraction)
    t_test = cut(config.train_fraction + config.gap_fraction)
    col = pl.col(key)
    parts = Split(
        train=ordered.filter(col < t_cal),
        calibration=ordered.filter((col >= t_cal) & (col < t_gap)),
        gap=ordered.filter((col >= t_gap) & (col < t_test)),
        test=ordered.filter(col >= t_test),
    )
    for name in ("train", "calibration", "test"):
        if getattr(parts, name).height == 0:
            msg = (
                f"the {name} slice is empty ({n} rows, time column {time_col!r}); "
                "give more rows spread over more distinct times"
            )
            raise ValueError(msg)
    return Split(*(part.drop(_ROW) for part in parts))
