"""Time-ordered split into booster-training, calibration, gap and test slices; never random."""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

from models.schema import TrainConfig

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
