"""Drive a baseline and a candidate configuration over an event log, chunk by chunk, into one result table.

Per chunk: the offline features once (they do not depend on the configuration), each distinct model scores once the
rows some policy sends to it, and each configuration decides with `decide`. The result keeps, per event, what an
analyst segments and compares by: ids, amount, channel, country, mcc, the label when known, and both decisions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import polars as pl

from engine.replay.config import Config
from engine.replay.decide import SCORES, decisions, pre_policy
from engine.replay.history import chunks
from engine.replay.inputs import Source
from features.card_payment import CARD_PAYMENT, MODEL_FEATURES
from features.offline import compute_offline

KEEP = ("event_id", "occurred_at", "amount", "channel", "country", "mcc")
"""Event columns kept in the result for segments and samples."""
PREFIXES = ("base_", "cand_")
"""Column prefixes of the baseline's and the candidate's decisions."""


@dataclass
class ReplayResult:
    """Both configurations' decisions on every replayed event, and how long it took."""

    frame: pl.DataFrame
    """One row per event: `KEEP`, `is_fraud` (null when unknown), then `base_*` and `cand_*` decision columns."""
    baseline: Config
    """The baseline configuration."""
    candidate: Config
    """The candidate configuration."""
    source: str
    """What was replayed (kind and path)."""
    seconds: float = 0.0
    """Wall time of the replay (reading, features, rules, models, decisions)."""
    stages_s: dict[str, float] = field(default_factory=dict)
    """Wall time per stage: read, features, score, decide."""


def _model_frame(df: pl.DataFrame) -> pl.DataFrame:
    """The model's inputs, booleans as 0/1 (as `engine.training.training_frame` trains on them)."""
    names = [n for n, _ in MODEL_FEATURES]
    return df.select([pl.col(n).cast(pl.Float64) if df.schema[n] == pl.Boolean else pl.col(n) for n in names])


def _score(config: Config, df: pl.DataFrame, needed: pl.Series) -> pl.DataFrame:
    """`score`, `calibrated`, `ecdf` of `config`'s model for the rows in `needed` (null elsewhere)."""
    assert config.bundle is not None
    idx = needed.arg_true()
    out = {c: pl.Series(c, [None] * df.height, dtype=pl.Float64) for c in SCORES}
    if idx.len():
        scored = config.bundle.scorer.score_frame(_model_frame(df[idx]))
        for c in SCORES:
            out[c] = out[c].scatter(idx, scored[c])
    return pl.DataFrame(list(out.values()))


def replay(
    source: Source,
    profiles: Mapping[str, pl.DataFrame],
    baseline: Config,
    candidate: Config,
    *,
    labels: pl.DataFrame | None = None,
    chunk_rows: int = 2_000_000,
    on_chunk: Callable[[int], object] | None = None,
    where: str = "",
) -> ReplayResult:
    """Replay `source` through both configurations; `labels` (event_id, is_fraud[, labelled_at ...]) join by id.

    Labels carrying `labelled_at` and the entity keys also feed the delayed features from their `labelled_at` on,
    as `fraudgate labels load` would have in the live store. `on_chunk(n)` is told each chunk's event count.
    """
    t0 = time.perf_counter()
    stages = dict.fromkeys(("read", "features", "score", "decide"), 0.0)
    feature_labels = labels if labels is not None and "labelled_at" in labels.columns else None
    configs = (baseline, candidate)
    parts: list[pl.DataFrame] = []
    t = time.perf_counter()
    for chunk in chunks(source.events, CARD_PAYMENT, chunk_rows):
        stages["read"] += time.perf_counter() - t
        t = time.perf_counter()
        df = compute_offline(chunk.frame, profiles, CARD_PAYMENT, feature_labels, needed=chunk.needed)
        df = df.slice(chunk.n_history)
        stages["features"] += time.perf_counter() - t
        t = time.perf_counter()
        pre = df.select(*(pre_policy(c.policy)[0].is_null().alias(p) for c, p in zip(configs, PREFIXES, strict=True)))
        scores: dict[str, pl.DataFrame] = {}
        for c in configs:
            if c.bundle is None or str(c.bundle.path) in scores:
                continue
            # one model scores once, for every row that some configuration using it sends past its pre-policies
            users = [
                q
                for d, q in zip(configs, PREFIXES, strict=True)
                if d.bundle is not None and d.bundle.path == c.bundle.path
            ]
            needed = pre.select(pl.any_horizontal(users)).to_series()
            scores[str(c.bundle.path)] = _score(c, df, needed)
        stages["score"] += time.perf_counter() - t
        t = time.perf_counter()
        events = df.select(*(pl.col(n) for n in df.columns if n not in SCORES))
        out = [df.select(*KEEP, _label(df, labels))]
        for c, p in zip(configs, PREFIXES, strict=True):
            side = events.hstack(scores[str(c.bundle.path)]) if c.bundle is not None else events
            out.append(decisions(side, c.policy, c.bundle is not None, p))
        parts.append(pl.concat(out, how="horizontal"))
        stages["decide"] += time.perf_counter() - t
        if on_chunk is not None:
            on_chunk(df.height)
        t = time.perf_counter()
    frame = pl.concat(parts) if parts else pl.DataFrame()
    return ReplayResult(frame, baseline, candidate, f"{source.kind} {where}".strip(), time.perf_counter() - t0, stages)


def _label(df: pl.DataFrame, labels: pl.DataFrame | None) -> pl.Expr:
    if labels is not None:
        return (
            pl.col("event_id")
            .replace_strict(labels["event_id"], labels["is_fraud"], default=None, return_dtype=pl.Boolean)
            .alias("is_fraud")
        )
    if "is_fraud" in df.columns:
        return pl.col("is_fraud").cast(pl.Boolean)
    return pl.lit(None, pl.Boolean).alias("is_fraud")
