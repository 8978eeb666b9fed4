"""The HDR histogram: percentiles within its relative error bound (never below the exact value), exact merges."""

from __future__ import annotations

import pickle

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.hdr import MAX_VALUE, N_BUCKETS, RELATIVE_ERROR, Histogram, Timeline, bucket_bounds, bucket_index
from loadtest.schedule import percentiles

QS = (0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0)
micros = st.lists(st.integers(0, MAX_VALUE), min_size=1, max_size=400)
# Latency-like: mostly small, some huge, so both the exact and the log buckets are hit.
latencies = st.lists(st.one_of(st.integers(0, 300), st.integers(0, 10**6), st.integers(0, MAX_VALUE)), min_size=1)


def _exact(values: list[int], q: float) -> int:
    return int(percentiles(np.asarray(values, dtype=np.float64), (q,))[0]) if q > 0 else min(values)


@settings(max_examples=300, deadline=None)
@given(values=latencies)
def test_percentiles_are_never_below_and_at_most_the_relative_error_above_the_exact_value(values: list[int]) -> None:
    hist = Histogram()
    hist.record_micros(np.asarray(values, dtype=np.int64))
    for q in QS:
        exact = _exact(values, q)
        got = hist.value_at(q)
        assert exact <= got <= exact + exact * RELATIVE_ERROR, (q, exact, got)
    assert hist.max_us == max(values)
    assert hist.total == len(values)
    assert hist.value_at(100.0) == max(values)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.floats(0.0, 30.0, allow_nan=False), min_size=1, max_size=300))
def test_seconds_are_recorded_to_the_microsecond(values: list[float]) -> None:
    hist = Histogram()
    hist.record(np.asarray(values))
    for q in (50.0, 99.0, 99.9):
        exact_ms = percentiles(np.asarray(values), (q,))[0] * 1000.0
        got = hist.percentile_ms(q)
        assert exact_ms - 0.0005 <= got <= (exact_ms + 0.0005) * (1 + RELATIVE_ERROR)


@given(a=micros, b=micros)
def test_merging_equals_recording_everything_in_one(a: list[int], b: list[int]) -> None:
    ha, hb, both = Histogram(), Histogram(), Histogram()
    ha.record_micros(np.asarray(a))
    hb.record_micros(np.asarray(b))
    both.record_micros(np.asarray(a + b))
    assert ha.merge(hb) == both
    assert pickle.loads(pickle.dumps(both)) == both  # sparse pickling round-trips


def test_buckets_tile_the_value_range_without_gaps_and_within_the_error_bound() -> None:
    lo, hi = bucket_bounds(np.arange(N_BUCKETS))
    assert lo[0] == 0
    assert np.array_equal(lo[1:], hi[:-1] + 1)
    assert hi[-1] == MAX_VALUE
    assert np.all((hi - lo) <= lo * RELATIVE_ERROR)
    assert np.array_equal(bucket_index(lo), np.arange(N_BUCKETS))
    assert np.array_equal(bucket_index(hi), np.arange(N_BUCKETS))


def test_empty_histogram_answers_nan_and_out_of_range_values_are_clamped() -> None:
    hist = Histogram()
    assert np.isnan(hist.percentile_ms(99.0))
    hist.record(np.asarray([np.nan, -1e-7, 1e9]))
    assert hist.total == 2
    assert hist.min_us == 0
    assert hist.max_us == MAX_VALUE


def test_timeline_keeps_a_histogram_per_interval_and_merges() -> None:
    a, b = Timeline(1.0), Timeline(1.0)
    a.record(np.asarray([0.1, 0.2, 1.5]), np.asarray([0.001, 0.002, 1.0]))
    b.record(np.asarray([1.7, 3.2]), np.asarray([1.0, 0.005]))
    t, values = a.merge(b).series((50.0, 100.0))
    assert t.tolist() == [0.5, 1.5, 3.5]
    for got, exact in zip(values[:, 0].tolist(), [1.0, 1000.0, 5.0], strict=True):  # the median of each interval
        assert exact <= got <= exact * (1 + RELATIVE_ERROR)
    assert values[0, 1] >= 2.0
