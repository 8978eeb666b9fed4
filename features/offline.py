"""The offline twin: the same features as `FeatureExecutor`, computed over a whole event log with Polars.

Training and replay use this; serving uses Redis. Both read the same `FeatureSet` and share the bucket arithmetic of
`features.velocity`, and `tests/features/test_online_offline.py` demands they agree event by event. Semantics match
serving where every earlier event's velocity update has landed before an event is read (serving applies updates
after each response, so under load a read may miss the last few milliseconds of traffic).
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from features.derived import DerivedFeatures
from features.plan import build_levels
from features.specs import FeatureSet, ProfileSpec, ValueType, VelocitySpec
from features.velocity import granularities

_DTYPES: dict[ValueType, pl.DataType] = {
    "str": pl.String(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "bool": pl.Boolean(),
}


def compute_offline(
    events: pl.DataFrame, profiles: Mapping[str, pl.DataFrame], feature_set: FeatureSet
) -> pl.DataFrame:
    """`events` (in arrival order) with every feature of `feature_set` added as a column.

    `profiles` maps an entity kind (`card`, `customer`, ...) to its profile table; an absent table means every
    lookup of that entity misses, as it would against an empty Redis.
    """
    df = events.with_row_index("_row")
    for level in build_levels(feature_set):
        for p in level.profiles:
            df = _join_profile(df, p, profiles.get(p.entity))
    for v in feature_set.velocity:
        df = _velocity(df, v)
    df = DerivedFeatures(feature_set).apply_frame(df)
    return df.sort("_row").drop("_row")


def _key_expr(key: tuple[str, ...]) -> pl.Expr:
    parts = [pl.when(pl.col(k) != "").then(pl.col(k).cast(pl.String)) for k in key]
    return pl.coalesce(parts) if len(parts) > 1 else parts[0]


def _join_profile(df: pl.DataFrame, spec: ProfileSpec, table: pl.DataFrame | None) -> pl.DataFrame:
    key = f"_key_{spec.entity}"
    df = df.with_columns(_key_expr(spec.key).alias(key))
    if table is None:
        right = pl.DataFrame(
            {key: [], **{f.feature: pl.Series([], dtype=_DTYPES[f.type]) for f in spec.fields}},
            schema_overrides={key: pl.String},
        )
    else:
        right = table.select(
            pl.col(spec.id_column).cast(pl.String).alias(key),
            *[pl.col(f.column).cast(_DTYPES[f.type]).alias(f.feature) for f in spec.fields],
        ).unique(subset=key, keep="last")
    df = df.join(right, on=key, how="left").drop(key)
    defaults = [pl.col(f.feature).fill_null(f.default) for f in spec.fields if f.default is not None]
    return df.with_columns(defaults) if defaults else df


def _velocity(df: pl.DataFrame, spec: VelocitySpec) -> pl.DataFrame:
    key = f"_vkey_{spec.entity}"
    ts = pl.col("occurred_at").dt.epoch("s")
    cents = (pl.col("amount") * 100 + pl.when(pl.col("amount") >= 0).then(0.5).otherwise(-0.5)).cast(pl.Int64)
    base = df.select(
        "_row",
        pl.when(pl.col(spec.key) != "").then(pl.col(spec.key).cast(pl.String)).alias(key),
        ts.alias("_ts"),
        cents.alias("_cents"),
    ).filter(pl.col(key).is_not_null())
    out = base.select("_row")
    for g in granularities(spec):
        b = base.with_columns((pl.col("_ts") // g).alias("_b")).sort("_row")
        # earlier events of the same bucket, in arrival order
        b = b.with_columns(
            (pl.col("_cents").cum_count().over([key, "_b"]) - 1).alias("_in_c"),
            (pl.col("_cents").cum_sum().over([key, "_b"]) - pl.col("_cents")).alias("_in_s"),
        )
        # running totals over whole earlier buckets: C(x) = everything of the key in buckets <= x
        totals = (
            b.group_by([key, "_b"])
            .agg(pl.len().alias("_n"), pl.col("_cents").sum().alias("_s"))
            .sort([key, "_b"])
            .with_columns(
                pl.col("_n").cum_sum().over(key).alias("_C"),
                pl.col("_s").cum_sum().over(key).alias("_S"),
            )
            .select(key, "_b", "_C", "_S")
            .sort("_b")
        )
        for w in (w for w in spec.windows if w.granularity_s == g):
            lo, hi = _asof(b, totals, key, pl.col("_b") - w.buckets), _asof(b, totals, key, pl.col("_b") - 1)
            part = b.select("_row", "_in_c", "_in_s").with_columns(
                hi["_C"].alias("_hiC"), hi["_S"].alias("_hiS"), lo["_C"].alias("_loC"), lo["_S"].alias("_loS")
            )
            sel = [((pl.col("_in_c") + pl.col("_hiC") - pl.col("_loC")).cast(pl.Int64)).alias(w.count_feature)]
            if w.sum_feature:
                sel.append(((pl.col("_in_s") + pl.col("_hiS") - pl.col("_loS")) / 100).alias(w.sum_feature))
            out = out.join(part.select("_row", *sel), on="_row", how="left")
    return df.join(out, on="_row", how="left")


def _asof(b: pl.DataFrame, totals: pl.DataFrame, key: str, target: pl.Expr) -> pl.DataFrame:
    """Running totals at the last bucket <= `target` of each row of `b` (zeros when there is none), in `b`'s order."""
    left = b.select("_row", key, target.alias("_t")).sort("_t")
    joined = left.join_asof(totals, left_on="_t", right_on="_b", by=key, strategy="backward", check_sortedness=False)
    return joined.sort("_row").select(pl.col("_C").fill_null(0), pl.col("_S").fill_null(0))
