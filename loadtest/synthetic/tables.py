"""The generated data set: the events and the profile tables, their exact schemas, and their Parquet files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

UTC_US: Final = pl.Datetime("us", "UTC")
_STR: Final = pl.String()
_I64: Final = pl.Int64()
_F64: Final = pl.Float64()

EVENTS_SCHEMA: Final = pl.Schema(
    {
        "event_id": _STR,
        "event_type": _STR,
        "occurred_at": UTC_US,
        "card_id": _STR,
        "customer_id": _STR,
        "merchant_id": _STR,
        "mcc": _STR,
        "amount": _F64,
        "currency": _STR,
        "country": _STR,
        "channel": _STR,
        "device_id": _STR,
        "ip": _STR,
        "is_fraud": pl.Boolean(),
        "typology": _STR,
    }
)
"""One row per ``card_payment`` event, sorted by ``occurred_at``; ``device_id`` and ``ip`` are null exactly for
card-present channels (``pos``, ``atm``)."""

CARDS_SCHEMA: Final = pl.Schema({"card_id": _STR, "customer_id": _STR, "issuer_country": _STR, "card_age_days": _I64})
"""Card profiles as of the start of the period; cards issued later have no row."""

CUSTOMERS_SCHEMA: Final = pl.Schema(
    {
        "customer_id": _STR,
        "home_country": _STR,
        "account_age_days": _I64,
        "avg_amount_90d": _F64,
        "txn_count_90d": _I64,
    }
)
"""Customer profiles as of the start of the period (amounts in BRL)."""

MERCHANTS_SCHEMA: Final = pl.Schema(
    {
        "merchant_id": _STR,
        "mcc": _STR,
        "country": _STR,
        "merchant_age_days": _I64,
        "chargeback_rate_90d": _F64,
    }
)
"""Merchant profiles as of the start of the period."""

DEVICES_SCHEMA: Final = pl.Schema({"device_id": _STR, "device_age_days": _I64, "n_cards_30d": _I64})
"""Device profiles as of the start of the period; devices first seen later have no row."""

SCHEMAS: Final = {
    "events": EVENTS_SCHEMA,
    "cards": CARDS_SCHEMA,
    "customers": CUSTOMERS_SCHEMA,
    "merchants": MERCHANTS_SCHEMA,
    "devices": DEVICES_SCHEMA,
}
"""Table name (also the Parquet file's stem) to its exact schema."""


def check_schema(name: str, frame: pl.DataFrame) -> None:
    """Raise ``ValueError`` naming the table and the columns when ``frame`` does not have the table's exact schema."""
    expected = SCHEMAS[name]
    if frame.schema != expected:
        got = ", ".join(f"{column}: {dtype}" for column, dtype in frame.schema.items())
        want = ", ".join(f"{column}: {dtype}" for column, dtype in expected.items())
        raise ValueError(f"{name}: expected columns [{want}], got [{got}]")


@dataclass(frozen=True, eq=False, slots=True)
class SyntheticData:
    """A synthetic data set: the events and the profiles of the entities they involve.

    Some entities are absent from the profiles on purpose (cards issued and devices first seen after the start of
    the period), so that consumers exercise their defaults.
    """

    events: pl.DataFrame
    """``card_payment`` events (see ``EVENTS_SCHEMA``)."""
    cards: pl.DataFrame
    """Card profiles (see ``CARDS_SCHEMA``)."""
    customers: pl.DataFrame
    """Customer profiles (see ``CUSTOMERS_SCHEMA``)."""
    merchants: pl.DataFrame
    """Merchant profiles (see ``MERCHANTS_SCHEMA``)."""
    devices: pl.DataFrame
    """Device profiles (see ``DEVICES_SCHEMA``)."""

    def __post_init__(self) -> None:
        """Keep the contract: every table has its exact schema."""
        for name in SCHEMAS:
            check_schema(name, getattr(self, name))

    def tables(self) -> dict[str, pl.DataFrame]:
        """Table name to frame, in the order of ``SCHEMAS``."""
        return {name: getattr(self, name) for name in SCHEMAS}

    def equals(self, other: SyntheticData) -> bool:
        """Whether every table of ``other`` equals ours, values, order and dtypes."""
        return all(
            ours.equals(theirs) for ours, theirs in zip(self.tables().values(), other.tables().values(), strict=True)
        )

    def write(self, directory: Path) -> None:
        """Write one Parquet file per table (``events.parquet``, ``cards.parquet``, ...) into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, frame in self.tables().items():
            frame.write_parquet(directory / f"{name}.parquet")

    @classmethod
    def read(cls, directory: Path) -> SyntheticData:
        """Read a data set written by ``write``; a missing file or a wrong schema raises naming the table."""
        missing = [name for name in SCHEMAS if not (directory / f"{name}.parquet").is_file()]
        if missing:
            raise FileNotFoundError(f"{directory}: missing {', '.join(f'{name}.parquet' for name in missing)}")
        frames = {name: pl.read_parquet(directory / f"{name}.parquet") for name in SCHEMAS}
        return cls(**frames)
