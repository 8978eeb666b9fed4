"""Score drift: the population stability index (PSI) of live raw scores against the bundle's reference slice.

Bins are fixed once from the reference deciles kept in the bundle (``pipeline.json`` ECDF quantiles), so a live
score costs one ``bisect`` and one increment; PSI is read from the counts whenever a metric is scraped.
Conventional reading: below 0.1 stable, 0.1 to 0.25 worth a look, above 0.25 the population has moved.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from itertools import pairwise

EPSILON = 1e-4
"""Floor of a bin share inside the logarithm, so an empty bin gives a large but finite PSI."""


def psi(expected: Sequence[float], actual: Sequence[float], *, epsilon: float = EPSILON) -> float:
    """PSI of two binnings given as shares (each summing to 1): ``sum((a - e) * ln(a / e))``, never negative."""
    if len(expected) != len(actual):
        msg = f"expected and actual need the same number of bins, got {len(expected)} and {len(actual)}"
        raise ValueError(msg)
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, epsilon), max(a, epsilon)
        total += (a - e) * math.log(a / e)
    return total


def reference_bins(quantiles: Sequence[float], bins: int = 10) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Bin edges (inner, increasing, no duplicates) and the reference share of each bin, from ECDF quantiles.

    ``quantiles[i]`` is the reference score at probability ``i / (len - 1)`` (see ``models.learners.ecdf``). Bin
    ``k`` holds the scores in ``(edges[k - 1], edges[k]]``; tied quantiles (a model that gives many rows the same
    score) merge bins, and the shares then come from the reference ECDF rather than ``1 / bins``.
    """
    if bins < 2 or len(quantiles) < 2:
        msg = f"need at least 2 bins and 2 quantiles, got {bins} bins and {len(quantiles)} quantiles"
        raise ValueError(msg)
    q = list(quantiles)
    last = len(q) - 1
    wanted = [q[round(k * last / bins)] for k in range(1, bins)]
    edges = tuple(sorted(set(wanted)))
    # share of the reference at or below an edge: the probability of the last quantile <= edge
    below = [0.0, *((bisect_right(q, e) - 1) / last for e in edges), 1.0]
    shares = tuple(max(hi - lo, 0.0) for lo, hi in pairwise(below))
    return edges, shares


def score_psi(quantiles: Sequence[float], scores: Iterable[float], bins: int = 10) -> float:
    """PSI of a sample of live raw scores against the reference the quantiles describe (the pure twin of
    :class:`DriftAccumulator`)."""
    acc = DriftAccumulator(quantiles, bins)
    for s in scores:
        acc.update(s)
    return acc.psi()


class DriftAccumulator:
    """Live score counts in the reference bins; ``update`` is one bisect and one increment.

    Not locked: CPython's GIL keeps ``counts[k] += 1`` consistent enough for a metric; give each process its own.
    """

    def __init__(self, quantiles: Sequence[float], bins: int = 10) -> None:
        """Fix the bins from the bundle's ECDF quantiles (``bundle.scorer.spec.ecdf.quantiles``)."""
        self.edges, self.expected = reference_bins(quantiles, bins)
        self.counts = [0] * (len(self.edges) + 1)

    @property
    def count(self) -> int:
        """Scores seen since the last reset."""
        return sum(self.counts)

    def update(self, score: float) -> None:
        """Count one live raw score (NaN is ignored)."""
        if score == score:
            self.counts[bisect_left(self.edges, score)] += 1

    def shares(self) -> list[float]:
        """Share of the live scores per bin (all zero before the first score)."""
        n = self.count
        return [c / n for c in self.counts] if n else [0.0] * len(self.counts)

    def psi(self) -> float:
        """PSI of the scores seen so far against the reference; NaN before the first score."""
        return psi(self.expected, self.shares()) if self.count else math.nan

    def reset(self) -> None:
        """Start a new window."""
        self.counts = [0] * len(self.counts)
