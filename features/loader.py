"""Bulk load of profile tables into Redis hashes, pipelined, with a progress bar.

Issue 4 will make a reload swap versions atomically; for now a load overwrites fields in place and records the
snapshot it came from in a marker hash, which is how `make run` knows the demo profiles are already there.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import polars as pl
import redis
from redis.typing import EncodableT, FieldT
from tqdm import tqdm

from features import keys
from features.specs import FeatureSet

CHUNK = 5_000


def _encode(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def load_profiles(
    client: redis.Redis,
    feature_set: FeatureSet,
    tables: Mapping[str, pl.DataFrame],
    *,
    snapshot: str,
    progress: bool = True,
) -> dict[str, int]:
    """Write every profile table named by `feature_set` to Redis; returns rows written per entity."""
    written: dict[str, int] = {}
    for spec in feature_set.profiles:
        table = tables.get(spec.entity)
        if table is None:
            continue
        columns = [f.column for f in spec.fields]
        missing = [c for c in [spec.id_column, *columns] if c not in table.columns]
        if missing:
            raise ValueError(f"profile table `{spec.entity}` lacks columns {missing}; it has {table.columns}")
        frame = table.select(spec.id_column, *columns)
        bar = tqdm(total=frame.height, desc=f"profiles {spec.entity}", unit="rows", disable=not progress)
        for chunk in frame.iter_slices(CHUNK):
            pipe = client.pipeline(transaction=False)
            for row in chunk.iter_rows():
                mapping: dict[FieldT, EncodableT] = {
                    c: _encode(v) for c, v in zip(columns, row[1:], strict=True) if v is not None
                }
                key = keys.profile_key(spec.entity, str(row[0]))
                pipe.delete(key)
                if mapping:
                    pipe.hset(key, mapping=mapping)
            pipe.execute()
            bar.update(chunk.height)
        bar.close()
        written[spec.entity] = frame.height
    marker: dict[FieldT, EncodableT] = {"snapshot": snapshot, "loaded_at": str(time.time())}
    marker.update({k: str(v) for k, v in written.items()})
    client.hset(
        keys.profiles_marker_key(feature_set.name),
        mapping=marker,
    )
    return written


def loaded_snapshot(client: redis.Redis, feature_set: FeatureSet) -> str | None:
    """The snapshot id of the profiles in Redis, or None when none were loaded."""
    raw = client.hget(keys.profiles_marker_key(feature_set.name), "snapshot")
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)
