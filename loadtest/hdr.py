"""A small HDR-style histogram: log-linear buckets with a bounded relative error, merged by adding counts.

Values are recorded in whole microseconds. Below `SUB_BUCKETS` µs every value has its own bucket (exact); above, each
power of two is cut into `HALF` equal buckets, so a bucket's width is less than 1/`HALF` of its lower edge. A
percentile is answered with the highest value of the bucket that holds it (HdrHistogram's `highestEquivalentValue`,
capped at the largest value recorded), hence never below the exact sample and less than 1/128 (0.79 %) above it.
Memory is fixed (`N_BUCKETS` counters) whatever the number of samples, and two histograms merge exactly by adding
their counters: that is how worker processes combine their results.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

SUB_BITS = 8
SUB_BUCKETS = 1 << SUB_BITS  # 256 exact buckets for 0..255 µs
HALF = SUB_BUCKETS // 2  # buckets per power of two above that
MAX_BITS = 40  # values up to 2**40 µs (12.7 days); larger ones are clamped into the top bucket (max stays exact)
MAX_VALUE = (1 << MAX_BITS) - 1
N_BUCKETS = SUB_BUCKETS + (MAX_BITS - SUB_BITS) * HALF
RELATIVE_ERROR = 1.0 / HALF
"""Upper bound of (reported - exact) / exact for any percentile (exact values in µs, ignoring the rounding to µs)."""

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def bucket_index(values: IntArray) -> IntArray:
    """The bucket of each value (µs, clamped to [0, MAX_VALUE])."""
    v = np.clip(np.asarray(values, dtype=np.int64), 0, MAX_VALUE)
    # frexp gives v = m * 2**e with m in [0.5, 1): e is exactly v's bit length for integers below 2**53.
    _, exp = np.frexp(v.astype(np.float64))
    shift = np.maximum(exp.astype(np.int64) - SUB_BITS, 0)
    mantissa = v >> shift  # in [HALF, SUB_BUCKETS) when shift > 0
    return np.where(shift == 0, v, SUB_BUCKETS + (shift - 1) * HALF + (mantissa - HALF))


def bucket_bounds(index: IntArray) -> tuple[IntArray, IntArray]:
    """Lowest and highest value (µs) of each bucket."""
    i = np.asarray(index, dtype=np.int64)
    j = np.maximum(i - SUB_BUCKETS, 0)
    shift = j // HALF + 1
    mantissa = j % HALF + HALF
    exact = i < SUB_BUCKETS
    lo = np.where(exact, i, mantissa << shift)
    hi = np.where(exact, i, ((mantissa + 1) << shift) - 1)
    return lo, hi


def to_micros(seconds: FloatArray) -> IntArray:
    """Seconds to whole microseconds (rounded, negatives from clock jitter clamped to 0)."""
    return np.clip(np.rint(np.asarray(seconds, dtype=np.float64) * 1e6), 0, MAX_VALUE).astype(np.int64)


def rank_of(q: float, n: int) -> int:
    """1-based rank of the q-th percentile among n samples: the smallest r with r / n >= q / 100."""
    # The tolerance keeps 99.9 / 100 * 1000 (= 999.0000000000001) from becoming rank 1000.
    return min(n, max(1, math.ceil(q / 100.0 * n - 1e-9)))


class Histogram:
    """Counts of microsecond values in `N_BUCKETS` log-linear buckets, plus the exact count, sum, min and max."""

    __slots__ = ("counts", "max_us", "min_us", "sum_us", "total")

    def __init__(self) -> None:
        self.counts: IntArray = np.zeros(N_BUCKETS, dtype=np.int64)
        self.total = 0
        self.sum_us = 0
        self.min_us = MAX_VALUE
        self.max_us = 0

    def record_micros(self, values: IntArray) -> None:
        """Add values given in whole microseconds."""
        v = np.clip(np.asarray(values, dtype=np.int64), 0, MAX_VALUE)
        if v.size == 0:
            return
        self.counts += np.bincount(bucket_index(v), minlength=N_BUCKETS)
        self.total += int(v.size)
        self.sum_us += int(v.sum())
        self.min_us = min(self.min_us, int(v.min()))
        self.max_us = max(self.max_us, int(v.max()))

    def record(self, seconds: FloatArray) -> None:
        """Add values given in seconds (NaN are skipped)."""
        s = np.asarray(seconds, dtype=np.float64)
        self.record_micros(to_micros(s[~np.isnan(s)]))

    def merge(self, other: Histogram) -> Histogram:
        """Add `other`'s counts to this one (exact); returns self."""
        self.counts += other.counts
        self.total += other.total
        self.sum_us += other.sum_us
        self.min_us = min(self.min_us, other.min_us)
        self.max_us = max(self.max_us, other.max_us)
        return self

    def value_at(self, q: float) -> int:
        """The q-th percentile in µs: the highest value of the bucket holding the sample of rank `rank_of(q, n)`."""
        if self.total == 0:
            raise ValueError("an empty histogram has no percentiles")
        cumulative = np.cumsum(self.counts)
        index = int(np.searchsorted(cumulative, rank_of(q, self.total), side="left"))
        _, hi = bucket_bounds(np.asarray([index]))
        return min(int(hi[0]), self.max_us)

    def percentile_ms(self, q: float) -> float:
        """`value_at(q)` in milliseconds; NaN when empty."""
        return self.value_at(q) / 1000.0 if self.total else math.nan

    @property
    def max_ms(self) -> float:
        """Largest value recorded (exact), ms; NaN when empty."""
        return self.max_us / 1000.0 if self.total else math.nan

    @property
    def mean_ms(self) -> float:
        """Mean of the values recorded (exact up to the µs rounding), ms; NaN when empty."""
        return self.sum_us / self.total / 1000.0 if self.total else math.nan

    def buckets(self) -> tuple[FloatArray, FloatArray, IntArray]:
        """Non-empty buckets: lowest and highest value (ms) and count."""
        index = np.flatnonzero(self.counts)
        lo, hi = bucket_bounds(index)
        return lo / 1000.0, hi / 1000.0, self.counts[index]

    def __getstate__(self) -> tuple[IntArray, IntArray, int, int, int, int]:
        """Pickled sparse (only non-empty buckets): workers send histograms through pipes twice a second."""
        index = np.flatnonzero(self.counts)
        return index, self.counts[index], self.total, self.sum_us, self.min_us, self.max_us

    def __setstate__(self, state: tuple[IntArray, IntArray, int, int, int, int]) -> None:
        """Inverse of `__getstate__`."""
        index, counts, self.total, self.sum_us, self.min_us, self.max_us = state
        self.counts = np.zeros(N_BUCKETS, dtype=np.int64)
        self.counts[index] = counts

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Histogram)
            and np.array_equal(self.counts, other.counts)
            and (self.total, self.sum_us, self.min_us, self.max_us)
            == (other.total, other.sum_us, other.min_us, other.max_us)
        )

    __hash__ = None  # type: ignore[assignment]


class Timeline:
    """Latency histograms per interval of intended send time, stored sparse: (interval, bucket) -> count.

    Merged across workers by concatenation; one `Histogram` per interval is rebuilt only for the plot.
    """

    __slots__ = ("counts", "interval_s", "keys")

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.keys: IntArray = np.zeros(0, dtype=np.int64)
        self.counts: IntArray = np.zeros(0, dtype=np.int64)

    def record(self, offsets: FloatArray, seconds: FloatArray) -> None:
        """Add latencies (s) of requests due at `offsets` (s from the start)."""
        slot = np.floor(np.asarray(offsets, dtype=np.float64) / self.interval_s).astype(np.int64)
        keys = slot * N_BUCKETS + bucket_index(to_micros(seconds))
        self._add(keys, np.ones(keys.size, dtype=np.int64))

    def merge(self, other: Timeline) -> Timeline:
        """Add `other`'s counts (same interval); returns self."""
        if other.interval_s != self.interval_s:
            raise ValueError(f"cannot merge timelines of {other.interval_s} s and {self.interval_s} s intervals")
        self._add(other.keys, other.counts)
        return self

    def _add(self, keys: IntArray, counts: IntArray) -> None:
        all_keys = np.concatenate([self.keys, keys])
        all_counts = np.concatenate([self.counts, counts])
        self.keys, inverse = np.unique(all_keys, return_inverse=True)
        self.counts = np.bincount(inverse.ravel(), weights=all_counts, minlength=self.keys.size).astype(np.int64)

    def series(self, qs: tuple[float, ...] = (50.0, 99.0, 100.0)) -> tuple[FloatArray, FloatArray]:
        """Interval mid-times (s) and, per interval, the percentiles `qs` in ms (100 = max, bucket-exact)."""
        slots = np.unique(self.keys // N_BUCKETS)
        values = np.full((slots.size, len(qs)), np.nan)
        for row, slot in enumerate(slots.tolist()):
            sel = (self.keys // N_BUCKETS) == slot
            hist = Histogram()
            hist.counts[self.keys[sel] % N_BUCKETS] = self.counts[sel]
            hist.total = int(self.counts[sel].sum())
            _, hi = bucket_bounds(self.keys[sel] % N_BUCKETS)
            hist.max_us = int(hi.max())
            hist.min_us = 0
            values[row] = [hist.percentile_ms(q) for q in qs]
        mids = ((slots + 0.5) * self.interval_s).astype(np.float64)
        return mids, values.astype(np.float64)
