"""Bounded-memory reading of an event log: chunks in arrival order, each with exactly the history it needs.

Velocity features look back at most the longest window of their entity (30 days of a customer, 14 days of a
merchant's delayed fraud share, 24 hours of a card ...). Each chunk is computed together with the earlier events that
share one of its entity keys within that entity's horizon; earlier events outside every window cannot change a
feature, so the features of the chunk are exactly those of a whole-log computation (and each key's velocity features
are computed over only the history rows that key needs: a card's day, not a customer's month). Memory holds one chunk
plus the longest horizon of history. Arrival order is the file order; events later than the next chunk's start by
more than `SLACK` would be pruned too early (the logs we read are in time order up to network jitter).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import NamedTuple

import polars as pl

from features.specs import FeatureSet

DAY = 86_400
SLACK = timedelta(days=1)
"""How far out of time order an event may arrive and still find its history."""


def horizons(fs: FeatureSet) -> dict[str, timedelta]:
    """For each velocity key column, how far back an event's features can look (plus one bucket for alignment)."""
    out: dict[str, timedelta] = {}
    for v in fs.velocity:
        spans = [w.buckets * w.granularity_s + w.granularity_s for w in v.windows]
        spans += [d.buckets * d.granularity_s + d.granularity_s for d in v.distinct]
        spans += [(r.delay_days + r.days + 1) * DAY for r in v.delayed]
        out[v.key] = max(out.get(v.key, timedelta(0)), timedelta(seconds=max(spans, default=0)))
    return out


class Chunk(NamedTuple):
    """Some events of the log, with the history their features need in front of them."""

    frame: pl.DataFrame
    """The history rows, then the chunk's events."""
    n_history: int
    """How many rows of `frame` are history (their own features are not wanted)."""
    needed: dict[str, pl.Series]
    """Per velocity key column, the rows of `frame` its features need: the history rows sharing one of the chunk's
    values of that column within its horizon, and every row of the chunk (`compute_offline(..., needed=)`)."""


def chunks(events: pl.LazyFrame, fs: FeatureSet, chunk_rows: int) -> Iterator[Chunk]:
    """A `Chunk` of `chunk_rows` events (history + chunk) after another, in order."""
    spans = horizons(fs)
    longest = max(spans.values(), default=timedelta(0))
    history: pl.DataFrame | None = None
    offset = 0
    while True:
        chunk = events.slice(offset, chunk_rows).collect()
        if chunk.is_empty():
            return
        offset += chunk.height
        start = chunk["occurred_at"].min()
        per_key = _needed(chunk, spans, start)
        context = None
        if history is not None and history.height:
            context = history.filter(pl.any_horizontal(pl.lit(False), *per_key.values()))
        if context is None or context.is_empty():
            yield Chunk(chunk, 0, {})
        else:
            in_chunk = pl.repeat(True, chunk.height, dtype=pl.Boolean, eager=True)
            masks = context.select(**per_key)
            needed = {k: pl.concat([masks[k], in_chunk]).alias(k) for k in per_key}
            yield Chunk(pl.concat([context, chunk], how="vertical_relaxed"), context.height, needed)
        end = chunk["occurred_at"].max()
        kept = chunk if history is None else pl.concat([history, chunk], how="vertical_relaxed")
        history = kept.filter(pl.col("occurred_at") >= end - longest - SLACK)  # type: ignore[operator]
        if chunk.height < chunk_rows:
            return


def _needed(chunk: pl.DataFrame, spans: dict[str, timedelta], start: object) -> dict[str, pl.Expr]:
    """Per key column, the history rows that share a value with the chunk within that key's horizon (all other
    rows change none of that key's features)."""
    out: dict[str, pl.Expr] = {}
    for key, span in spans.items():
        values = chunk[key].drop_nulls().unique()
        recent = pl.col("occurred_at") >= start - span  # type: ignore[operator]
        out[key] = (recent & pl.col(key).is_in(values.implode())).fill_null(False)
    return out
