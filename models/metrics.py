"""Ranking metrics for a binary label, in numpy: ROC, AUC, average precision, recall at a false-positive rate."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.schema import Base

FloatArray = npt.NDArray[np.float64]


class Metrics(Base, frozen=True):
    """Quality of the raw score on the test slice."""

    rows: int
    """Test rows."""
    positives: int
    """Test rows labelled 1."""
    auc: float
    """Area under the ROC curve (ties count one half)."""
    average_precision: float
    """Average precision: sum over thresholds of precision times the recall gained."""
    recall_at_fpr_0_1pct: float
    """Highest recall with a false-positive rate of at most 0.1 %."""
    recall_at_fpr_1pct: float
    """Highest recall with a false-positive rate of at most 1 %."""
    recall_at_fpr_5pct: float
    """Highest recall with a false-positive rate of at most 5 %."""


def _counts(label: npt.ArrayLike, score: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """True and false positives at each distinct threshold, highest threshold first."""
    y = np.asarray(label, dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[last]
    fps = (last + 1) - tps
    return tps, fps, s[last]


def roc_curve(label: npt.ArrayLike, score: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(fpr, tpr, thresholds)`` starting at (0, 0); needs both classes."""
    tps, fps, thresholds = _counts(label, score)
    fpr = np.r_[0.0, fps / fps[-1]]
    tpr = np.r_[0.0, tps / tps[-1]]
    return fpr, tpr, np.r_[np.inf, thresholds]


def precision_recall_curve(label: npt.ArrayLike, score: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``(precision, recall)`` at each distinct threshold, highest threshold first."""
    tps, fps, _ = _counts(label, score)
    return tps / (tps + fps), tps / tps[-1]


def auc(label: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Area under the ROC curve."""
    fpr, tpr, _ = roc_curve(label, score)
    return float(np.trapezoid(tpr, fpr))


def average_precision(label: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Average precision (step-wise, no interpolation)."""
    precision, recall = precision_recall_curve(label, score)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def recall_at_fpr(label: npt.ArrayLike, score: npt.ArrayLike, max_fpr: float) -> float:
    """Highest recall reachable with a false-positive rate of at most ``max_fpr``."""
    fpr, tpr, _ = roc_curve(label, score)
    return float(np.max(tpr[fpr <= max_fpr]))


def evaluate(label: npt.ArrayLike, score: npt.ArrayLike) -> Metrics:
    """All metrics of ``score`` against ``label``; raises ValueError unless both classes are present."""
    y = np.asarray(label, dtype=np.float64)
    positives = int(y.sum())
    if positives in (0, y.size):
        msg = (
            f"the test slice has {y.size} rows and {positives} positives; metrics need both classes: "
            "give more rows or raise the share of the test period"
        )
        raise ValueError(msg)
    return Metrics(
        rows=int(y.size),
        positives=positives,
        auc=auc(y, score),
        average_precision=average_precision(y, score),
        recall_at_fpr_0_1pct=recall_at_fpr(y, score, 0.001),
        recall_at_fpr_1pct=recall_at_fpr(y, score, 0.01),
        recall_at_fpr_5pct=recall_at_fpr(y, score, 0.05),
    )
