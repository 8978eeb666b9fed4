"""Metrics against brute-force definitions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.metrics import auc, average_precision, evaluate, recall_at_fpr


def _pairs_auc(y: list[int], s: list[float]) -> float:
    pos = [si for yi, si in zip(y, s, strict=True) if yi == 1]
    neg = [si for yi, si in zip(y, s, strict=True) if yi == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.sampled_from([0.1, 0.2, 0.3, 0.5, 0.9])), min_size=2, max_size=60))
def test_auc_equals_the_pairwise_definition(rows: list[tuple[int, float]]) -> None:
    y = [r[0] for r in rows]
    s = [r[1] for r in rows]
    if len(set(y)) < 2:
        return
    assert auc(y, s) == pytest.approx(_pairs_auc(y, s))


def test_average_precision_of_a_small_example() -> None:
    # ranked: 1 (p=1/1), 0, 1 (p=2/3), 0 -> AP = (1 + 2/3) / 2
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(5 / 6)


def test_recall_at_fpr() -> None:
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    s = np.arange(10, 0, -1) / 10
    assert recall_at_fpr(y, s, 0.0) == pytest.approx(2 / 3)
    assert recall_at_fpr(y, s, 1 / 7) == pytest.approx(1.0)


def test_evaluate_refuses_a_single_class() -> None:
    with pytest.raises(ValueError, match="metrics need both classes"):
        evaluate([0, 0, 0], [0.1, 0.2, 0.3])
