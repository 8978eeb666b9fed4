"""The offline twin of velocity windows, distinct counts and delayed label features, over a whole event log.

Every feature is what the online store would answer for an event read just before its own update, with every
earlier event (in arrival order) counted and every label whose `labelled_at` is not later than the event loaded.
The arithmetic is that of `features.velocity`: whole buckets, integer cents.

How it is computed, per entity and granularity, in one sort and a few binary searches (no join per window): the
entity's events are sorted by (entity, bucket, arrival), and each (entity, bucket) pair is encoded as one integer
`_comp = entity_id * width + bucket offset`, so that "the entity's events in buckets <= x" is a prefix of its run and
`search_sorted` finds its end. A window of `n` buckets read by the event at sorted position `i` then holds the
positions `search_sorted(_comp - n, "right") .. i - 1`: the entity's events of whole buckets `b-n+1 .. b-1` (whatever
their arrival) plus the events of the current bucket that arrived before it. Counts are differences of positions,
sums differences of one running sum of cents. When time never goes back in arrival order (generated logs, the ETL
output, the Handbook), one stable sort by entity is that order for every granularity of the entity.

Distinct counts use the same order: each (value, bucket) occurrence covers the buckets after it up to the window's
end or the value's next bucket, and a count is the covers open at the event's bucket (two binary searches) plus the
values new to the window seen earlier in the same bucket (a running sum of "first seen" flags).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import cast

import polars as pl

from features.specs import VelocitySpec
from features.velocity import DAY, distinct_groups, granularities

_MAX_COMP = 2**62
"""Composite (entity, bucket) codes stay below this (Int64, with room for the offsets added to them)."""


def velocity_features(
    df: pl.DataFrame,
    spec: VelocitySpec,
    labels: pl.DataFrame | None,
    rows: pl.Series | None = None,
    ids: MutableMapping[str, pl.Series] | None = None,
) -> pl.DataFrame:
    """`df` (with a `_row` arrival index) plus the spec's velocity, distinct and delayed columns.

    `rows` (a mask over `df`) leaves the other rows out: they count for no one, and their own columns are null.
    `ids` caches `entity_ids` of `df`'s columns across the specs of one feature set.
    """
    feats = velocity_frame(df, spec, labels, rows, ids)
    if feats.height == df.height and feats["_row"].equals(df["_row"]):
        return df.hstack(feats.drop("_row").get_columns())
    return df.join(feats, on="_row", how="left", maintain_order="left")


def velocity_frame(
    df: pl.DataFrame,
    spec: VelocitySpec,
    labels: pl.DataFrame | None,
    rows: pl.Series | None = None,
    ids: MutableMapping[str, pl.Series] | None = None,
) -> pl.DataFrame:
    """`_row` of every row of `df` with a key (and in `rows`), in `_row` order, then the spec's columns."""
    ids = {} if ids is None else ids
    key = f"_vkey_{spec.entity}"
    ts = pl.col("occurred_at").dt.epoch("s")
    cents = (pl.col("amount") * 100 + pl.when(pl.col("amount") >= 0).then(0.5).otherwise(-0.5)).cast(pl.Int64)
    fields = sorted({d.field for d in spec.distinct})
    for c in (spec.key, *fields):
        if c not in ids:
            ids[c] = entity_ids(df[c])
    base = df.select(
        "_row",
        pl.when(pl.col(spec.key) != "").then(pl.col(spec.key).cast(pl.String)).alias(key),
        ids[spec.key].alias("_e"),
        ts.alias("_ts"),
        cents.alias("_cents"),
        *[ids[f].alias(f"_v_{f}") for f in fields],
    ).filter(pl.col("_e").is_not_null() if rows is None else pl.col("_e").is_not_null() & rows)
    if not base["_row"].is_sorted():
        base = base.sort("_row")

    keep = granularities(spec)
    kept_distinct = distinct_groups(spec)
    for (_, g), n in kept_distinct.items():
        keep[g] = max(keep.get(g, 0), n)
    # Events sorted by (entity, bucket, arrival). When time never goes back in arrival order (the logs we replay),
    # one stable sort by entity is that order for every granularity; otherwise each granularity sorts its own.
    shared = base["_ts"].null_count() == 0 and base["_ts"].is_sorted()
    frame = base.select("_e", "_ts", "_cents", *(f"_v_{f}" for f in fields)).with_row_index("_pos")
    if shared:
        frame = frame.sort("_e", maintain_order=True)
    cols: dict[str, pl.Series] = {}
    for g, n_kept in keep.items():
        out, pos = _granularity(frame, shared, spec, g, n_kept, [f for f, h in kept_distinct if h == g])
        if not shared:
            cols |= _unsort(pos, out)
        else:
            cols |= out
    if shared:
        cols = _unsort(frame["_pos"], cols)

    names: list[str] = []
    for g in granularities(spec):
        for w in (w for w in spec.windows if w.granularity_s == g):
            names += [w.count_feature, *([w.sum_feature] if w.sum_feature else [])]
        if g == DAY:
            for r in spec.delayed:
                day = base.select("_row", key, (pl.col("_ts") // DAY).alias("_b"), "_ts")
                frauds = _frauds(day, key, spec.key, r.delay_days, r.days, labels)
                t = cols[f"_txs_{r.feature}"]
                cols[r.feature] = pl.select(pl.when(t > 0).then(frauds / t).alias(r.feature)).to_series()
                names.append(r.feature)
    for field, g in kept_distinct:
        names += [d.feature for d in spec.distinct if d.field == field and d.granularity_s == g]
    return pl.DataFrame([base["_row"], *(cols[n] for n in names)])


def entity_ids(s: pl.Series) -> pl.Series:
    """An id 0 .. k-1 per distinct value of `s` (null and "" are no entity: null), UInt32, in `s`'s order."""
    s = pl.select(pl.when(s != "").then(s.cast(pl.String)).alias("_u")).to_series()
    values = s.drop_nulls().unique().to_frame("_u").with_row_index("_id")
    return s.to_frame("_u").join(values, on="_u", how="left", maintain_order="left")["_id"]


def _unsort(pos: pl.Series, cols: dict[str, pl.Series]) -> dict[str, pl.Series]:
    """`cols`, given in the order where row i came from position `pos[i]`, back in position order."""
    inverse = pos.arg_sort()
    return {name: s.gather(inverse) for name, s in cols.items()}


def _granularity(
    frame: pl.DataFrame, shared: bool, spec: VelocitySpec, g: int, n_kept: int, distinct_fields: list[str]
) -> tuple[dict[str, pl.Series], pl.Series]:
    """The spec's columns on buckets of `g` seconds (delayed risk: `_txs_<feature>` counts), and their order.

    `frame` holds the entity's events (`_pos` their arrival rank, `_e` the entity id), sorted by entity and arrival
    when `shared` (time then never goes back), else in arrival order. The columns come in (entity, bucket, arrival)
    order, the returned positions say which event each row is.
    """
    b = frame["_ts"] // g
    lo, hi = (cast(int, b.min()), cast(int, b.max())) if b.len() - b.null_count() else (0, 0)
    margin = n_kept + 2
    width = hi - lo + 2 * margin + 1
    if (cast(int, frame["_e"].max() or 0) + 1) * width >= _MAX_COMP:
        raise ValueError(f"velocity `{spec.entity}`: the log spans too many buckets of {g} s to encode")
    frame = frame.with_columns(
        b.alias("_b"), (pl.col("_e").cast(pl.Int64) * width + (b - (lo - margin))).alias("_comp")
    )
    if not shared:
        # by entity, bucket, then arrival (the sort is stable and `frame` is in arrival order)
        frame = frame.sort("_comp", maintain_order=True)
    n = frame.height
    comp = frame["_comp"]
    at = pl.int_range(n, dtype=pl.Int64, eager=True)
    sums = pl.concat([pl.Series([0], dtype=pl.Int64), frame["_cents"].fill_null(0).cum_sum()])
    no_cents = frame["_cents"].is_null()

    def start(back: int) -> pl.Series:
        """Sorted position of the first event of the entity in buckets > b - back (same bucket: back = 0)."""
        return comp.search_sorted(comp - back, side="right").cast(pl.Int64)

    out: dict[str, pl.Series] = {}
    for w in (w for w in spec.windows if w.granularity_s == g):
        first = start(w.buckets)
        out[w.count_feature] = (at - first).alias(w.count_feature)
        if w.sum_feature:
            s = (sums.slice(0, n) - sums.gather(first)) / 100
            out[w.sum_feature] = pl.select(pl.when(no_cents).then(None).otherwise(s)).to_series().alias(w.sum_feature)
    if g == DAY:
        for r in spec.delayed:
            out[f"_txs_{r.feature}"] = start(r.delay_days) - start(r.delay_days + r.days)
    for f in distinct_fields:
        windows = [d for d in spec.distinct if d.field == f and d.granularity_s == g]
        out |= _distinct(frame, f"_v_{f}", [(d.feature, d.buckets) for d in windows], at, start(1))
    return out, frame["_pos"]


def _distinct(
    frame: pl.DataFrame, v: str, windows: list[tuple[str, int]], at: pl.Series, block: pl.Series
) -> dict[str, pl.Series]:
    """Distinct values of `v` seen for the entity in buckets [b-n+1, b] by earlier events, per window, sorted order.

    `frame` is sorted by `_comp` (entity, bucket, arrival); `block` is each row's first position of its (entity,
    bucket). The count = values whose cover reaches b from whole buckets (a value seen in bucket x covers x+1 ..
    x+n-1, up to its next bucket) + values first seen in the current bucket, before this event, and not seen in the
    window before.
    """
    comp = frame["_comp"]
    first = (pl.col("_comp") != pl.col("_comp").shift(1)) | (pl.col(v) != pl.col(v).shift(1))
    occ = (
        frame.with_columns(at.alias("_at"))
        .filter(pl.col(v).is_not_null())
        .sort(["_e", v], maintain_order=True)
        .filter(first.fill_null(True))
    )
    same = (pl.col("_e") == pl.col("_e").shift(1)) & (pl.col(v) == pl.col(v).shift(1))
    same_next = (pl.col("_e") == pl.col("_e").shift(-1)) & (pl.col(v) == pl.col(v).shift(-1))
    occ = occ.select(
        "_comp",
        "_b",
        "_at",
        pl.when(same).then(pl.col("_b").shift(1)).alias("_prev"),
        pl.when(same_next).then(pl.col("_b").shift(-1)).alias("_next"),
    )
    seen_before = pl.Series([0], dtype=pl.Int64)
    out: dict[str, pl.Series] = {}
    for name, n in windows:
        last = pl.col("_b") + n - 1
        end = pl.min_horizontal(last, pl.col("_next").fill_null(last))
        cover = occ.select(
            (pl.col("_comp") + 1).alias("_from"),
            (pl.col("_comp") + end - pl.col("_b") + 1).alias("_to"),
            (end >= pl.col("_b") + 1).alias("_ok"),
        ).filter("_ok")
        full = _count_le(cover["_from"], comp) - _count_le(cover["_to"], comp)
        new_at = occ.filter(pl.col("_prev").is_null() | (pl.col("_prev") < pl.col("_b") - n + 1))["_at"]
        flags = pl.zeros(frame.height, dtype=pl.Int64, eager=True).scatter(new_at, 1)
        seen = pl.concat([seen_before, flags.cum_sum()])
        out[name] = (seen.gather(at) - seen.gather(block) + full).alias(name)
    return out


def _count_le(points: pl.Series, at: pl.Series) -> pl.Series:
    """For each value of `at`, how many of `points` are <= it."""
    return points.sort().search_sorted(at, side="right").cast(pl.Int64)


def _frauds(
    b: pl.DataFrame, key: str, key_field: str, delay_days: int, days: int, labels: pl.DataFrame | None
) -> pl.Series:
    """Fraud labels known (labelled_at <= the event) for transactions of the key in the delayed window, per row."""
    if labels is None or labels.is_empty():
        return pl.zeros(b.height, dtype=pl.Int64, eager=True).alias("_f")
    frauds = fraud_labels(labels, key_field)
    # a label of transaction day x serves reads on days x+delay .. x+delay+days-1, from its labelled_at on
    contrib = (
        frauds.select(
            pl.col(key_field).alias(key),
            pl.int_ranges(pl.col("_tx_day") + delay_days, pl.col("_tx_day") + delay_days + days, dtype=pl.Int64).alias(
                "_b"
            ),
            "_lab_ts",
        )
        .explode("_b")
        .sort("_lab_ts")
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over([key, "_b"]).alias("_k"))
    )
    left = b.select("_row", key, "_b", "_ts").sort("_ts")
    joined = left.join_asof(
        contrib, left_on="_ts", right_on="_lab_ts", by=[key, "_b"], strategy="backward", check_sortedness=False
    )
    return joined.sort("_row")["_k"].fill_null(0)


def fraud_labels(labels: pl.DataFrame, key_field: str) -> pl.DataFrame:
    """The fraud labels of an entity, one per (entity, event_id): `key_field`, event_id, `_tx_day`, `_lab_ts`."""
    need = {"event_id", key_field, "occurred_at", "labelled_at"}
    if not need <= set(labels.columns):
        raise ValueError(f"labels need columns {sorted(need)} (is_fraud optional); they have {labels.columns}")
    lab = labels if "is_fraud" not in labels.columns else labels.filter(pl.col("is_fraud").cast(pl.Boolean))
    return (
        lab.filter(pl.col(key_field).is_not_null() & (pl.col(key_field).cast(pl.String) != ""))
        .select(
            pl.col(key_field).cast(pl.String),
            pl.col("event_id").cast(pl.String),
            (pl.col("occurred_at").dt.epoch("s") // DAY).alias("_tx_day"),
            pl.col("labelled_at").dt.epoch("s").alias("_lab_ts"),
        )
        .sort("_lab_ts")
        .unique(subset=[key_field, "event_id"], keep="first", maintain_order=True)
    )
