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
from features.offline_velocity import velocity_features
from features.plan import build_levels
from features.specs import FeatureSet, ProfileSpec, ValueType

_DTYPES: dict[ValueType, pl.DataType] = {
    "str": pl.String(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "bool": pl.Boolean(),
}


def compute_offline(
    events: pl.DataFrame,
    profiles: Mapping[str, pl.DataFrame],
    feature_set: FeatureSet,
    labels: pl.DataFrame | None = None,
    *,
    needed: Mapping[str, pl.Series] | None = None,
) -> pl.DataFrame:
    """`events` (in arrival order) with every feature of `feature_set` added as a column.

    `profiles` maps an entity kind (`card`, `customer`, ...) to its profile table; an absent table means every
    lookup of that entity misses, as it would against an empty Redis. `labels` (event_id, the entity key columns,
    occurred_at, labelled_at, optional is_fraud) feed the delayed features, each from its `labelled_at` on; without
    them no fraud is known, as before any `fraudgate labels load`.

    `needed` (replay's chunks: history rows in front of the events wanted) maps a velocity key column to the rows
    its features need; the other rows are left out of that key's velocity features, and theirs are null.
    """
    df = events.with_row_index("_row")
    for level in build_levels(feature_set):
        for p in level.profiles:
            df = _join_profile(df, p, profiles.get(p.entity))
    ids: dict[str, pl.Series] = {}  # entity ids of a column, shared by the specs keyed or counting by it
    for v in feature_set.velocity:
        df = velocity_features(df, v, labels, needed.get(v.key) if needed else None, ids)
    df = DerivedFeatures(feature_set).apply_frame(df)
    return (df if df["_row"].is_sorted() else df.sort("_row")).drop("_row")


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
    df = df.join(right, on=key, how="left", maintain_order="left").drop(key)
    defaults = [pl.col(f.feature).fill_null(f.default) for f in spec.fields if f.default is not None]
    return df.with_columns(defaults) if defaults else df
