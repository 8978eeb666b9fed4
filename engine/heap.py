"""Garbage collection for a latency-bound server: the start-up heap frozen, young collections rarer.

CPython's cycle collector runs a young pass every 700 net container allocations and, every 100 of those, a full
pass over every tracked object. After start-up the heap holds the app, the policy, the model bundle, the feature
plan and their libraries: objects that live as long as the process and are never cyclic garbage. A full pass over
them, in the middle of a request, was a visible share of the profile and of the tail latency of batches
(docs/benchmarks/speed.md). `gc.freeze()` moves them to a permanent generation that collections skip; a decision's
own objects are freed by reference counting, so collecting young objects less often costs little memory.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Net container allocations between two young collections (CPython's default is 700)."""


def settle() -> int:
    """Collect once, freeze what is left (the start-up heap) and space out young collections; returns how many
    objects were frozen. Called once per serving process, after its resources are built."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    return gc.get_freeze_count()
