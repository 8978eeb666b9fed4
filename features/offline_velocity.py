"""The offline twin of velocity windows, distinct counts and delayed label features, over a whole event log.

Every feature is what the online store would answer for an event read just before its own update, with every
earlier event (in arrival order) counted and every label whose `labelled_at` is not later than the event loaded.
The arithmetic is that of `features.velocity`: whole buckets, integer cents.
"""

from __future__ import annotations

import polars as pl

from features.specs import VelocitySpec
from features.velocity import DAY, distinct_groups, granularities


def velocity_features(df: pl.DataFrame, spec: VelocitySpec, labels: pl.DataFrame | None) -> pl.DataFrame:
    """`df` (with a `_row` arrival index) plus the spec's velocity, distinct and delayed columns."""
    key = f"_vkey_{spec.entity}"
    ts = pl.col("occurred_at").dt.epoch("s")
    cents = (pl.col("amount") * 100 + pl.when(pl.col("amount") >= 0).then(0.5).otherwise(-0.5)).cast(pl.Int64)
    fields = sorted({d.field for d in spec.distinct})
    base = (
        df.select(
            "_row",
            pl.when(pl.col(spec.key) != "").then(pl.col(spec.key).cast(pl.String)).alias(key),
            ts.alias("_ts"),
            cents.alias("_cents"),
            *[pl.when(pl.col(f) != "").then(pl.col(f).cast(pl.String)).alias(f"_d_{f}") for f in fields],
        )
        .filter(pl.col(key).is_not_null())
        .sort("_row")
    )
    out = base.select("_row")
    for g in granularities(spec):
        b = base.with_columns((pl.col("_ts") // g).alias("_b"))
        totals = _running_totals(b, key)
        # earlier events of the same bucket, in arrival order
        b = b.with_columns(
            (pl.col("_cents").cum_count().over([key, "_b"]) - 1).alias("_in_c"),
            (pl.col("_cents").cum_sum().over([key, "_b"]) - pl.col("_cents")).alias("_in_s"),
        )
        for w in (w for w in spec.windows if w.granularity_s == g):
            c, s = _range(b, totals, key, pl.col("_b") - w.buckets, pl.col("_b") - 1)
            sel = [(pl.col("_in_c") + c).cast(pl.Int64).alias(w.count_feature)]
            if w.sum_feature:
                sel.append(((pl.col("_in_s") + s) / 100).alias(w.sum_feature))
            out = out.join(b.select("_row", "_in_c", "_in_s").select("_row", *sel), on="_row", how="left")
        if g == DAY and spec.delayed:
            for r in spec.delayed:
                txs, _ = _range(b, totals, key, pl.col("_b") - r.delay_days - r.days, pl.col("_b") - r.delay_days)
                frauds = _frauds(b, key, spec.key, r.delay_days, r.days, labels)
                share = pl.when(txs > 0).then(frauds / txs).alias(r.feature)
                out = out.join(b.select("_row").with_columns(share), on="_row", how="left")
    for (field, g), _kept in distinct_groups(spec).items():
        b = base.select("_row", key, pl.col(f"_d_{field}").alias("_v"), (pl.col("_ts") // g).alias("_b"))
        for d in (d for d in spec.distinct if d.field == field and d.granularity_s == g):
            out = out.join(_distinct(b, key, d.buckets).rename({"_distinct": d.feature}), on="_row", how="left")
    return df.join(out, on="_row", how="left")


def _running_totals(b: pl.DataFrame, key: str) -> pl.DataFrame:
    """C(x), S(x): count and cents of everything of the key in buckets <= x, one row per (key, bucket) seen."""
    return (
        b.group_by([key, "_b"])
        .agg(pl.len().alias("_n"), pl.col("_cents").sum().alias("_s"))
        .sort([key, "_b"])
        .select(key, "_b", pl.col("_n").cum_sum().over(key).alias("_C"), pl.col("_s").cum_sum().over(key).alias("_S"))
        .sort("_b")
    )


def _range(
    b: pl.DataFrame, totals: pl.DataFrame, key: str, lo_excl: pl.Expr, hi: pl.Expr
) -> tuple[pl.Series, pl.Series]:
    """Count and cents of the key's events in buckets (lo_excl, hi], for each row of `b`, in `b`'s order."""
    hi_c, hi_s = _asof(b, totals, key, hi, "_C", "_S")
    lo_c, lo_s = _asof(b, totals, key, lo_excl, "_C", "_S")
    return hi_c - lo_c, hi_s - lo_s


def _asof(b: pl.DataFrame, table: pl.DataFrame, key: str, target: pl.Expr, *cols: str) -> list[pl.Series]:
    """`cols` of `table` at its last bucket <= `target` for each row of `b` (0 when none), in `b`'s order."""
    left = b.select("_row", key, target.alias("_t")).sort("_t")
    joined = left.join_asof(table, left_on="_t", right_on="_b", by=key, strategy="backward", check_sortedness=False)
    joined = joined.sort("_row")
    return [joined[c].fill_null(0) for c in cols]


def _distinct(b: pl.DataFrame, key: str, n: int) -> pl.DataFrame:
    """Distinct values seen for the key in buckets [b-n+1, b] by earlier events; columns `_row`, `_distinct`.

    = values whose cover reaches b from whole earlier buckets (a value seen in bucket x covers x+1 .. x+n-1, up to
    its next bucket) + values first seen in the current bucket, before this event, and not seen in the window before.
    """
    occ = (
        b.filter(pl.col("_v").is_not_null())
        .group_by([key, "_v", "_b"])
        .agg(pl.col("_row").min().alias("_first"))
        .sort([key, "_v", "_b"])
        .with_columns(
            pl.col("_b").shift(1).over([key, "_v"]).alias("_prev"),
            pl.col("_b").shift(-1).over([key, "_v"]).alias("_next"),
        )
    )
    end = pl.min_horizontal(pl.col("_b") + n - 1, pl.col("_next").fill_null(pl.col("_b") + n - 1))
    cover = occ.select(key, "_b", end.alias("_end")).filter(pl.col("_end") >= pl.col("_b") + 1)
    deltas = (
        pl.concat(
            [
                cover.select(key, (pl.col("_b") + 1).alias("_b"), pl.lit(1, pl.Int64).alias("_d")),
                cover.select(key, (pl.col("_end") + 1).alias("_b"), pl.lit(-1, pl.Int64).alias("_d")),
            ]
        )
        .group_by([key, "_b"])
        .agg(pl.col("_d").sum())
        .sort([key, "_b"])
        .select(key, "_b", pl.col("_d").cum_sum().over(key).alias("_D"))
        .sort("_b")
    )
    (full,) = _asof(b, deltas, key, pl.col("_b"), "_D")
    new = occ.filter(pl.col("_prev").is_null() | (pl.col("_prev") < pl.col("_b") - n + 1)).select(
        pl.col("_first").alias("_row"), pl.lit(1, pl.Int64).alias("_new")
    )
    cur = (
        b.select("_row", key, "_b")
        .join(new, on="_row", how="left")
        .with_columns(pl.col("_new").fill_null(0))
        .sort("_row")
        .select("_row", (pl.col("_new").cum_sum().over([key, "_b"]) - pl.col("_new")).alias("_cur"))
    )
    return cur.with_columns((pl.col("_cur") + full).cast(pl.Int64).alias("_distinct")).select("_row", "_distinct")


def _frauds(
    b: pl.DataFrame, key: str, key_field: str, delay_days: int, days: int, labels: pl.DataFrame | None
) -> pl.Series:
    """Fraud labels known (labelled_at <= the event) for transactions of the key in the delayed window, per row."""
    if labels is None or labels.is_empty():
        return pl.Series("_f", [0] * b.height, dtype=pl.Int64)
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
