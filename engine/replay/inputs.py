"""The event logs replay reads, normalised to the event columns, and their labels.

Three shapes are accepted: a generated folder (`events.parquet` beside the profile tables), the ETL output folder
(`date=*/part-*.parquet`, the event rebuilt from its `event` JSON column) and the Fraud Detection Handbook's
`transactions.parquet` (mapped onto `card_payment`; no profiles). A plain events Parquet file works too. Each is
opened lazily, so `history` can read it chunk by chunk without holding the whole log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from features.card_payment import CARD_PAYMENT

UTC_US = pl.Datetime("us", "UTC")
_TYPES: dict[str, pl.DataType] = {"str": pl.String(), "float": pl.Float64(), "int": pl.Int64(), "datetime": UTC_US}
EVENT_SCHEMA: dict[str, pl.DataType] = {name: _TYPES[t] for name, t in CARD_PAYMENT.event_fields.items()}
"""The event's columns and their dtypes, as the offline features and the rules read them."""


@dataclass(frozen=True)
class Source:
    """An event log opened lazily, in arrival order."""

    kind: str
    """`generated`, `etl`, `handbook` or `events`."""
    events: pl.LazyFrame
    """The event columns (`EVENT_SCHEMA`), plus `is_fraud` when the log carries it."""
    profiles_dir: Path | None
    """Folder whose profile tables go with the log (a generated folder), else None."""


def _normalise(lf: pl.LazyFrame, extra: tuple[str, ...] = ()) -> pl.LazyFrame:
    names = lf.collect_schema().names()
    cols = [
        (pl.col(n) if n in names else pl.lit(None)).cast(t).alias(n)
        for n, t in EVENT_SCHEMA.items()
        if n != "occurred_at"
    ]
    when = pl.col("occurred_at")
    occurred = when.dt.convert_time_zone("UTC") if lf.collect_schema()["occurred_at"] != UTC_US else when
    keep = [pl.col(c).cast(pl.Boolean) for c in ("is_fraud", *extra) if c in names]
    return lf.select(*cols, occurred.cast(UTC_US).alias("occurred_at"), *keep).select(
        *EVENT_SCHEMA, *(c for c in ("is_fraud", *extra) if c in names)
    )


def handbook(path: Path) -> pl.LazyFrame:
    """The Handbook's transactions as `card_payment` events (fixed mcc, currency, country and channel)."""
    return pl.scan_parquet(path).select(
        pl.col("TRANSACTION_ID").cast(pl.String).alias("event_id"),
        pl.lit("card_payment").alias("event_type"),
        pl.col("TX_DATETIME").dt.replace_time_zone("UTC").cast(UTC_US).alias("occurred_at"),
        pl.col("CUSTOMER_ID").cast(pl.String).alias("card_id"),
        pl.col("CUSTOMER_ID").cast(pl.String).alias("customer_id"),
        pl.col("TERMINAL_ID").cast(pl.String).alias("merchant_id"),
        pl.lit("5999").alias("mcc"),
        pl.col("TX_AMOUNT").cast(pl.Float64).alias("amount"),
        pl.lit("BRL").alias("currency"),
        pl.lit("BR").alias("country"),
        pl.lit("ecommerce").alias("channel"),
        pl.lit(None, pl.String).alias("device_id"),
        pl.lit(None, pl.String).alias("ip"),
        pl.col("TX_FRAUD").cast(pl.Boolean).alias("is_fraud"),
    )


def etl_files(folder: Path) -> list[Path]:
    """The ETL's part files in arrival order (date partitions, then stream ids, which sort as they were written)."""
    return sorted(folder.glob("date=*/part-*.parquet"), key=lambda p: (p.parent.name, _stream_key(p.stem)))


def _stream_key(stem: str) -> tuple[int, int]:
    ms, _, seq = stem.removeprefix("part-").partition("_")
    return int(ms), int(seq or 0)


def etl_events(folder: Path) -> pl.LazyFrame:
    """The events of the decision log, rebuilt from its `event` JSON column (in the order they were decided)."""
    files = etl_files(folder)
    if not files:
        raise ValueError(f"{folder}: no ETL output (date=*/part-*.parquet) in it")
    as_json = {n: (pl.String() if n == "occurred_at" else t) for n, t in EVENT_SCHEMA.items()}
    # the ETL dedupes each batch without keeping its order: the stream id (`<ms>-<seq>`) is the arrival order
    ms, seq = (pl.col("stream_id").str.split("-").list.get(i).cast(pl.Int64) for i in (0, 1))
    ordered = pl.concat([pl.scan_parquet(f).sort(ms, seq) for f in files])
    decoded = (
        ordered.select(pl.col("event").str.json_decode(pl.Struct(as_json)).alias("_e"))
        .unnest("_e")
        .with_columns(pl.col("occurred_at").str.to_datetime(time_zone="UTC", time_unit="us"))
    )
    return _normalise(decoded)


def open_events(path: Path) -> Source:
    """Open `path`: a generated folder, an ETL output folder, the Handbook file or an events Parquet file."""
    if path.is_dir():
        if (path / "events.parquet").exists():
            return Source("generated", _normalise(pl.scan_parquet(path / "events.parquet")), path)
        return Source("etl", etl_events(path), None)
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    names = pl.scan_parquet(path).collect_schema().names()
    if "TX_AMOUNT" in names:
        return Source("handbook", handbook(path), None)
    missing = [c for c in ("event_id", "occurred_at", "card_id", "merchant_id", "amount") if c not in names]
    if missing:
        raise ValueError(f"{path}: an event log needs the columns {missing}; it has {names}")
    return Source("events", _normalise(pl.scan_parquet(path)), None)


def read_labels(path: Path) -> pl.DataFrame:
    """Labels by `event_id`: `is_fraud`, plus whatever else the file has (`labelled_at` feeds delayed features)."""
    labels = pl.read_parquet(path)
    if not {"event_id", "is_fraud"} <= set(labels.columns):
        raise ValueError(f"{path}: labels need the columns event_id and is_fraud; they have {labels.columns}")
    return labels.with_columns(pl.col("event_id").cast(pl.String), pl.col("is_fraud").cast(pl.Boolean)).unique(
        "event_id", keep="last"
    )
