"""`fraudgate etl`: drain the decision stream into date-partitioned Parquet, through a consumer group.

Each batch is written (temp file, fsync, rename) before its stream entries are acknowledged, so a crash re-delivers
and never loses. Writing is idempotent by `event_id`: records whose event id a partition already holds are skipped,
which also absorbs the at-least-once replay of the spill file. Layout: `OUT/date=YYYY-MM-DD/part-<stream id>.parquet`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
import redis
from tqdm import tqdm

from features.keys import DECISION_STREAM

GROUP = "etl"
_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()

SCHEMA: dict[str, pl.DataType] = {
    "stream_id": pl.String(),
    "event_id": pl.String(),
    "decided_at": pl.Datetime("us", "UTC"),
    "occurred_at": pl.Datetime("us", "UTC"),
    "action": pl.String(),
    "stage": pl.String(),
    "rule": pl.String(),
    "score": pl.Float64(),
    "calibrated": pl.Float64(),
    "ecdf": pl.Float64(),
    "degraded": pl.Boolean(),
    "degraded_reason": pl.String(),
    "policy_version": pl.String(),
    "model_version": pl.String(),
    "latency_ms": pl.Float64(),
    "shadow_hits": pl.List(pl.String()),
    "reasons": pl.String(),
    "event": pl.String(),
    "features": pl.String(),
    "timings_ms": pl.String(),
    "shadow_policy": pl.String(),
    "challenger": pl.String(),
}
"""Columns of the Parquet output; nested parts (event, features, reasons, timings, shadows) are JSON text."""


def ensure_group(client: redis.Redis) -> None:
    """Create the consumer group (and the stream) if absent."""
    try:
        client.xgroup_create(DECISION_STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


def _flatten(stream_id: str, payload: bytes) -> dict[str, Any]:
    rec = _decoder.decode(payload)
    d = rec["decision"]
    return {
        "stream_id": stream_id,
        "event_id": d["event_id"],
        "decided_at": rec["decided_at"],
        "occurred_at": rec["event"].get("occurred_at"),
        **{k: d.get(k) for k in ("action", "stage", "rule", "score", "calibrated", "ecdf", "degraded")},
        **{k: d.get(k) for k in ("degraded_reason", "policy_version", "model_version", "latency_ms", "shadow_hits")},
        "reasons": _encoder.encode(d.get("reasons", [])).decode(),
        "event": _encoder.encode(rec["event"]).decode(),
        "features": _encoder.encode(rec.get("features")).decode(),
        "timings_ms": _encoder.encode(rec.get("timings_ms", {})).decode(),
        "shadow_policy": _encoder.encode(rec.get("shadow_policy")).decode(),
        "challenger": _encoder.encode(rec.get("challenger")).decode(),
    }


def to_frame(entries: list[tuple[bytes, dict[bytes, bytes]]]) -> pl.DataFrame:
    """Stream entries to the output table (datetimes parsed, schema fixed)."""
    rows = [_flatten(sid.decode(), fields[b"d"]) for sid, fields in entries]
    frame = pl.DataFrame(rows, schema={**SCHEMA, "decided_at": pl.String(), "occurred_at": pl.String()})
    return frame.with_columns(
        pl.col("decided_at").str.to_datetime(time_zone="UTC", time_unit="us"),
        pl.col("occurred_at").str.to_datetime(time_zone="UTC", time_unit="us"),
    )


def _known_ids(partition: Path) -> set[str]:
    if not partition.exists() or not any(partition.glob("*.parquet")):
        return set()
    return set(pl.scan_parquet(partition / "*.parquet").select("event_id").collect()["event_id"].to_list())


def write_batch(frame: pl.DataFrame, out: Path, known: dict[Path, set[str]] | None = None) -> int:
    """Write new records, partition by partition, durably; returns how many were new.

    `known` caches each partition's event ids across the batches of one drain, so a partition is read once, not
    once per batch (the files are only ever written by this function, which keeps the cache current).
    """
    known = {} if known is None else known
    written = 0
    frame = frame.with_columns(pl.col("decided_at").dt.date().cast(pl.String).alias("_date"))
    for (date,), part in frame.group_by(["_date"], maintain_order=True):
        folder = out / f"date={date}"
        if folder not in known:
            known[folder] = _known_ids(folder)
        seen = known[folder]
        fresh = part.filter(~pl.col("event_id").is_in(list(seen))).unique("event_id", keep="first")
        if fresh.is_empty():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{fresh['stream_id'][0].replace('-', '_')}.parquet"
        tmp = folder / f".{name}.tmp"
        fresh.drop("_date").write_parquet(tmp)
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, folder / name)
        seen.update(fresh["event_id"].to_list())
        written += fresh.height
    return written


def _batches(client: redis.Redis, consumer: str, count: int, block_ms: int | None) -> Iterator[list[Any]]:
    # first what this consumer was given before and never acknowledged (a crash), then new entries
    for start in ("0", ">"):
        while True:
            reply: Any = client.xreadgroup(GROUP, consumer, {DECISION_STREAM: start}, count=count,
                                      block=block_ms if start == ">" else None)  # fmt: skip
            entries: list[Any] = reply[0][1] if reply else []
            if not entries:
                break
            yield entries


def drain(
    client: redis.Redis, out: Path, *, once: bool, consumer: str = "etl-1", count: int = 5_000, progress: bool = True
) -> tuple[int, int]:
    """Move the stream to Parquet under `out`; with `once`, stop when it is empty. Returns (read, written)."""
    ensure_group(client)
    read = written = 0
    known: dict[Path, set[str]] = {}
    bar = tqdm(desc="etl", unit="records", disable=not progress)
    while True:
        for entries in _batches(client, consumer, count, None if once else 1_000):
            written += write_batch(to_frame(entries), out, known)
            client.xack(DECISION_STREAM, GROUP, *[sid for sid, _ in entries])
            read += len(entries)
            bar.update(len(entries))
        if once:
            break
    bar.close()
    return read, written


def read_output(out: Path) -> pl.DataFrame:
    """Everything the ETL wrote under `out` (for analysts, replay and tests)."""
    return (
        pl.read_parquet(out / "date=*" / "*.parquet", hive_partitioning=True)
        if any(out.glob("date=*"))
        else (pl.DataFrame(schema=SCHEMA))
    )
