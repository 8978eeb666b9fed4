"""Schedules have the right count and rate; percentiles follow the inverted-CDF definition exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.schedule import (
    constant_schedule,
    make_schedule,
    percentiles,
    poisson_schedule,
    request_count,
    split_round_robin,
)

rates = st.floats(min_value=0.5, max_value=5000.0, allow_nan=False)
durations = st.floats(min_value=0.2, max_value=20.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(rate=rates, duration=durations)
def test_constant_schedule_count_spacing_and_bounds(rate: float, duration: float) -> None:
    times = constant_schedule(rate, duration)
    assert times.size == math.floor(rate * duration + 1e-9)
    if times.size:
        assert times[0] == 0.0
        assert times[-1] < duration
    if times.size > 1:
        np.testing.assert_allclose(np.diff(times), 1.0 / rate)


@settings(max_examples=60, deadline=None)
@given(rate=rates, duration=durations, seed=st.integers(0, 2**32 - 1))
def test_poisson_schedule_count_order_and_mean_rate(rate: float, duration: float, seed: int) -> None:
    times = poisson_schedule(rate, duration, seed)
    n = request_count(rate, duration)
    assert times.size == n
    assert np.all(np.diff(times) >= 0)
    assert np.all((times >= 0) & (times < duration))
    if n >= 400:
        # n uniform points: their mean sits at duration / 2 within a few standard errors.
        assert abs(times.mean() - duration / 2) < 5 * duration / math.sqrt(12 * n)
        gaps = np.diff(times)
        assert abs(gaps.mean() * rate - 1.0) < 0.1


def test_poisson_gaps_are_exponential_not_even() -> None:
    gaps = np.diff(poisson_schedule(1000.0, 50.0, seed=1))
    cv = gaps.std() / gaps.mean()
    assert 0.95 < cv < 1.05  # exponential: coefficient of variation 1; a constant schedule has 0
    assert np.array_equal(poisson_schedule(1000.0, 1.0, 3), poisson_schedule(1000.0, 1.0, 3))
    assert not np.array_equal(poisson_schedule(1000.0, 1.0, 3), poisson_schedule(1000.0, 1.0, 4))


def test_count_survives_floating_point() -> None:
    assert request_count(0.1, 30.0) == 3
    assert constant_schedule(3.0, 1.0).tolist() == [0.0, 1 / 3, 2 / 3]


@pytest.mark.parametrize(("rate", "duration"), [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.0), (math.inf, 1.0)])
def test_bad_rate_or_duration_is_refused(rate: float, duration: float) -> None:
    with pytest.raises(ValueError, match="must be a positive number"):
        constant_schedule(rate, duration)


def test_unknown_arrivals_are_refused() -> None:
    with pytest.raises(ValueError, match="'constant' or 'poisson'"):
        make_schedule("bursty", 1.0, 1.0, 0)  # type: ignore[arg-type]


@given(n=st.integers(0, 500), parts=st.integers(1, 8))
def test_round_robin_split_covers_every_index_once(n: int, parts: int) -> None:
    shards = split_round_robin(n, parts)
    assert len(shards) == parts
    assert sorted(np.concatenate(shards).tolist()) == list(range(n))
    assert max(s.size for s in shards) - min(s.size for s in shards) <= 1


def _reference(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    # Exact rational arithmetic: the smallest rank r with r / n >= q / 100.
    n = len(ordered)
    rank = next(r for r in range(1, n + 1) if 1000 * r >= round(q * 10) * n)
    return ordered[rank - 1]


@given(st.lists(st.floats(0.0, 1e4, allow_nan=False), min_size=1, max_size=300))
def test_percentiles_are_observed_samples_at_the_inverted_cdf(samples: list[float]) -> None:
    got = percentiles(np.asarray(samples))
    for q, value in zip((50.0, 90.0, 99.0, 99.9), got, strict=True):
        assert value == _reference(samples, q)
        assert value in samples


def test_percentiles_known_values_and_empty() -> None:
    samples = np.arange(1.0, 1001.0)  # 1..1000
    assert percentiles(samples) == [500.0, 900.0, 990.0, 999.0]
    assert all(math.isnan(v) for v in percentiles(np.asarray([], dtype=np.float64)))
