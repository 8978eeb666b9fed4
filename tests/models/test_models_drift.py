"""Population stability index: the pure function, the reference bins and the per-event accumulator."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import Bundle
from models.drift import DriftAccumulator, psi, reference_bins, score_psi
from models.learners.ecdf import fit_ecdf


def test_psi_by_hand() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * math.log(0.5) * -1 + 0.25 * math.log(1.5))
    with pytest.raises(ValueError) as info:
        psi([1.0], [0.5, 0.5])
    assert str(info.value) == "expected and actual need the same number of bins, got 1 and 2"


def test_reference_bins_are_deciles_and_merge_ties() -> None:
    edges, shares = reference_bins(np.linspace(0, 1, 101).tolist())
    assert edges == pytest.approx([k / 10 for k in range(1, 10)])
    assert shares == pytest.approx([0.1] * 10)
    # half the reference scored exactly 0: the low deciles collapse into one bin holding half the mass
    tied = fit_ecdf(np.r_[np.zeros(500), np.linspace(0.01, 1, 500)], 101).quantiles
    edges, shares = reference_bins(tied)
    assert edges[0] == 0.0
    assert shares[0] == pytest.approx(0.5, abs=0.011)
    assert sum(shares) == pytest.approx(1.0)


def test_same_population_is_stable_and_a_shift_is_not() -> None:
    rng = np.random.default_rng(0)
    quantiles = fit_ecdf(rng.beta(1, 20, 50_000), 1001).quantiles
    assert score_psi(quantiles, rng.beta(1, 20, 20_000)) < 0.01
    assert score_psi(quantiles, rng.beta(2, 20, 20_000)) > 0.25


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=200))
def test_accumulator_equals_binning_with_numpy(scores: list[float]) -> None:
    quantiles = np.linspace(0, 1, 101) ** 2
    acc = DriftAccumulator(quantiles.tolist())
    for s in scores:
        acc.update(s)
    # numpy's twin: bin k holds (edges[k-1], edges[k]]
    counts = np.bincount(np.searchsorted(np.array(acc.edges), scores, side="left"), minlength=len(acc.counts))
    assert acc.counts == counts.tolist()
    assert acc.psi() == pytest.approx(psi(acc.expected, (counts / counts.sum()).tolist()))
    acc.reset()
    assert acc.count == 0
    assert math.isnan(acc.psi())


def test_the_bundle_reference_against_its_own_scores(bundle: Bundle, frame: object) -> None:
    acc = DriftAccumulator(bundle.scorer.spec.ecdf.quantiles)
    assert len(acc.counts) >= 2
    acc.update(float("nan"))
    assert acc.count == 0
    for s in bundle.scorer.score_frame(frame)["score"].to_list():  # type: ignore[arg-type]
        acc.update(s)
    assert acc.psi() < 0.25
