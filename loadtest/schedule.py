"""Intended send times, fixed before the run starts, and exact percentiles.

An open-loop generator decides *when* every request is due before it sends the first one; the server's speed never
moves the schedule. Offsets are seconds from the start of the run, sorted ascending.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Arrivals = Literal["constant", "poisson"]
FloatArray = NDArray[np.float64]


def request_count(rate: float, duration: float) -> int:
    """Number of requests a schedule of `rate` per second holds over `duration` seconds (rounded down)."""
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate must be a positive number of requests per second, got {rate!r}")
    if not (duration > 0 and math.isfinite(duration)):
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    # The epsilon keeps 0.1 * 30 (= 2.9999999999999996) from losing a request to floating point.
    return math.floor(rate * duration + 1e-9)


def constant_schedule(rate: float, duration: float) -> FloatArray:
    """Evenly spaced send times: request i is due at i / rate, all within [0, duration)."""
    return np.arange(request_count(rate, duration), dtype=np.float64) / rate


def poisson_schedule(rate: float, duration: float, seed: int) -> FloatArray:
    """Poisson arrivals of `rate` per second over [0, duration), conditioned on the same count as the constant schedule.

    Given its count, a homogeneous Poisson process is n sorted uniform points on the interval, so the count is exact
    (runs at different rates compare like for like) while the gaps are exponential (bursts happen, as in production).
    """
    n = request_count(rate, duration)
    rng = np.random.default_rng(seed)
    return np.sort(rng.uniform(0.0, duration, size=n))


def make_schedule(arrivals: Arrivals, rate: float, duration: float, seed: int) -> FloatArray:
    """The schedule for `--arrivals`."""
    if arrivals == "constant":
        return constant_schedule(rate, duration)
    if arrivals == "poisson":
        return poisson_schedule(rate, duration, seed)
    raise ValueError(f"arrivals must be 'constant' or 'poisson', got {arrivals!r}")


def split_round_robin(n: int, parts: int) -> list[NDArray[np.int64]]:
    """Indices 0..n-1 dealt round-robin to `parts` workers, so each worker sees the same rate and burstiness."""
    if parts < 1:
        raise ValueError(f"parts must be at least 1, got {parts}")
    return [np.arange(k, n, parts, dtype=np.int64) for k in range(parts)]


PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0, 99.9)


def percentiles(samples: FloatArray, qs: tuple[float, ...] = PERCENTILES) -> list[float]:
    """Exact percentiles of all samples: the smallest sample x with at least q% of the samples <= x.

    This is the inverted-CDF definition (HdrHistogram's `valueAtPercentile` without the bucketing): every reported
    value is a latency that was actually observed, never an interpolation between two.
    """
    n = samples.size
    if n == 0:
        return [math.nan for _ in qs]
    ordered = np.sort(samples)
    # rank = ceil(q% of n), with a tolerance: 99.9 / 100 * 1000 is 999.0000000000001 in floating point (numpy's own
    # inverted_cdf falls into that trap and answers the 1000th sample).
    ranks = [min(n, max(1, math.ceil(q / 100.0 * n - 1e-9))) for q in qs]
    return [float(ordered[r - 1]) for r in ranks]
