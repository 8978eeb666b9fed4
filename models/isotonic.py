"""Isotonic regression by pool-adjacent-violators, in numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def isotonic_fit(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Fit a non-decreasing step function of ``x`` to ``y`` (least squares).

    Returns breakpoints ``(xs, ys)``: ``xs`` strictly increasing, ``ys`` non-decreasing; interpolating linearly
    between them (and clipping outside) gives the calibrated value. Ties in ``x`` are pooled first.
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape or xa.ndim != 1 or xa.size == 0:
        msg = f"isotonic_fit needs two 1-d arrays of the same non-zero length, got {xa.shape} and {ya.shape}"
        raise ValueError(msg)
    ux, inverse, counts = np.unique(xa, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ya, minlength=ux.size)
    # PAV over blocks: each block keeps (sum of y, weight, index of its first unique x).
    block_sum: list[float] = []
    block_w: list[float] = []
    block_start: list[int] = []
    for i in range(ux.size):
        s, w, start = float(sums[i]), float(counts[i]), i
        while block_sum and block_sum[-1] * w >= s * block_w[-1]:
            s += block_sum.pop()
            w += block_w.pop()
            start = block_start.pop()
        block_sum.append(s)
        block_w.append(w)
        block_start.append(start)
    starts = np.asarray(block_start, dtype=np.intp)
    ends = np.append(starts[1:], ux.size) - 1
    means = np.asarray(block_sum) / np.asarray(block_w)
    # Keep the first and last x of each block: enough for exact interpolation, far fewer than all unique x.
    xs = np.column_stack([ux[starts], ux[ends]]).ravel()
    ys = np.repeat(means, 2)
    keep = np.ones(xs.size, dtype=bool)
    keep[1::2] = starts != ends
    return xs[keep], ys[keep]


def isotonic_apply(xs: FloatArray, ys: FloatArray, values: npt.ArrayLike) -> FloatArray:
    """Interpolate between the breakpoints, clipping to the end values outside them.

    Unlike ``np.interp`` the share of the interval is taken first, so tiny gaps between breakpoints cannot overflow.
    """
    s = np.asarray(values, dtype=np.float64)
    if xs.size == 1:
        return np.full(s.shape, ys[0], dtype=np.float64)
    k = np.clip(np.searchsorted(xs, s, side="right"), 1, xs.size - 1)
    x0, x1, y0, y1 = xs[k - 1], xs[k], ys[k - 1], ys[k]
    with np.errstate(over="ignore"):  # far outside the breakpoints the share overflows to inf, then clips to 1
        frac = np.clip((s - x0) / (x1 - x0), 0.0, 1.0)
    return np.asarray(y0 + frac * (y1 - y0), dtype=np.float64)
