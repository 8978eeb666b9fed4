"""Traffic scenarios in YAML: what to send (synthetic mix or a replayed event log), at what pace, and what must hold.

A scenario gives defaults; flags given on the command line win over it. Unknown fields are refused and every error
names the field by its path (``Object contains unknown field `rat` - at `$```), prefixed with the file name.

Example (see `loadtest/scenarios/` for the shipped ones)::

    description: everyday traffic with repeat cards
    rate: 200
    arrivals: poisson
    duration: 30
    sla_p99_ms: 50
    expect_filter_ratio: {min: 0.55, max: 0.75}
    synthetic: {n_events: 20000, seed: 7, n_cards: 1000, fraud_rate: 0.02}
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import numpy as np
import polars as pl
from msgspec import Meta

from loadtest.hdr import FloatArray
from loadtest.synthetic import SyntheticConfig

Positive = Annotated[float, Meta(gt=0)]
Share = Annotated[float, Meta(ge=0, le=1)]
MAX_CYCLED_REPLAY_EVENTS = 200_000  # a replay sent at `rate` (no `speed`) reads at most this many rows, then cycles


class Base(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Shared base: immutable, unknown fields refused."""


class FilterRatio(Base, frozen=True, kw_only=True):
    """The share of decisions that pre-policies must take, inclusive bounds."""

    min: Share
    """Lowest acceptable filter ratio."""
    max: Share
    """Highest acceptable filter ratio."""

    def __post_init__(self) -> None:
        """Refuse an empty range."""
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")


class Replay(Base, frozen=True, kw_only=True):
    """Replay of a Parquet event log, mapped column by column onto the engine's event."""

    path: str
    """Parquet file; a relative path is taken from the scenario file's folder."""
    columns: dict[str, str] = {}
    """Event field -> source column, e.g. `amount: TX_AMOUNT`; columns not named here are not sent."""
    id_prefix: dict[str, str] = {}
    """Event field -> text put before the source value (integer ids become `card-596`)."""
    defaults: dict[str, str | int | float | bool] = {}
    """Event fields with one fixed value for every event (`mcc`, `currency`, `country`, `channel`, ...)."""
    speed: Positive | None = None
    """Send each event at its recorded time divided by this (60 = one recorded minute per second); without it,
    events are sent in order at `rate`."""
    start: datetime | None = None
    """Skip the log up to this recorded time."""

    def __post_init__(self) -> None:
        """A timed replay needs the time column."""
        if self.speed is not None and "occurred_at" not in self.columns:
            raise ValueError("speed needs `columns.occurred_at`: the recorded times set the send times")


class Scenario(Base, frozen=True, kw_only=True):
    """One traffic scenario; every pacing field is optional and the command line overrides it."""

    description: str = ""
    """What the scenario stands for."""
    synthetic: SyntheticConfig | None = None
    """Events from the synthetic generator: `n_events`, `seed`, `n_cards` (fewer cards: more reuse, so velocity
    features matter), `days`, `fraud_rate`, `fraud_mix`, `foreign_share`, `sanctioned_share`, ..."""
    replay: Replay | None = None
    """Events from a Parquet log instead."""
    path: str | None = None
    """Request path (default `/v1/decide`)."""
    rate: Positive | None = None
    """Requests per second (ignored by a replay with `speed`)."""
    arrivals: Literal["constant", "poisson"] | None = None
    """Arrival process."""
    duration: Positive | None = None
    """Measured seconds."""
    warmup: Annotated[float, Meta(ge=0)] | None = None
    """Seconds sent before the measured window."""
    batch_size: Annotated[int, Meta(ge=1)] | None = None
    """Events per request."""
    sla_p99_ms: Positive | None = None
    """The p99 budget."""
    expect_filter_ratio: FilterRatio | None = None
    """The share of decisions pre-policies must take."""

    def __post_init__(self) -> None:
        """One source of events at most; a timed replay sends one event per request."""
        if self.synthetic is not None and self.replay is not None:
            raise ValueError("give either `synthetic` or `replay`, not both")
        if self.replay is not None and self.replay.speed is not None and (self.batch_size or 1) > 1:
            raise ValueError("`batch_size` must be 1 with `replay.speed`: each event goes at its own time")


def load_scenario(path: Path) -> tuple[Scenario, Path]:
    """Decode and check a scenario file; returns it with the folder relative paths start from."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the scenario: {exc.strerror}") from None
    try:
        scenario = msgspec.yaml.decode(text, type=Scenario)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{path}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    return scenario, path.parent


def replay_path(replay: Replay, base: Path) -> Path:
    """The log file, relative paths resolved against the scenario's folder."""
    p = Path(replay.path)
    return p if p.is_absolute() else base / p


def load_replay(replay: Replay, base: Path, horizon_s: float | None) -> tuple[pl.DataFrame, FloatArray | None]:
    """The mapped events and, with `speed`, their send offsets (s) within `horizon_s` of the first event."""
    path = replay_path(replay, base)
    if not path.exists():
        raise ValueError(f"replay.path: no such file {path}")
    frame = pl.scan_parquet(path)
    missing = sorted(set(replay.columns.values()) - set(frame.collect_schema().names()))
    if missing:
        raise ValueError(f"replay.columns: {path.name} has no column {', '.join(missing)}")
    ts = pl.col(replay.columns["occurred_at"]) if "occurred_at" in replay.columns else None
    if replay.start is not None and ts is not None:
        frame = frame.filter(ts >= replay.start.replace(tzinfo=None))
    if replay.speed is not None and ts is not None and horizon_s is not None:
        first = frame.select(ts.min()).collect().item()
        if first is None:
            raise ValueError(f"replay: {path.name} has no events after {replay.start}")
        frame = frame.filter(ts < first + timedelta(seconds=horizon_s * replay.speed))
    else:
        frame = frame.head(MAX_CYCLED_REPLAY_EVENTS)
    exprs = []
    for field, source in replay.columns.items():
        col = pl.col(source)
        if field in replay.id_prefix:
            col = pl.lit(replay.id_prefix[field]) + col.cast(pl.String)
        exprs.append(col.alias(field))
    exprs += [pl.lit(value).alias(field) for field, value in replay.defaults.items() if field not in replay.columns]
    events = frame.select(exprs).collect()
    if events.height == 0:
        raise ValueError(f"replay: no events to send from {path}")
    if replay.speed is None:
        return events, None
    events = events.sort("occurred_at", maintain_order=True)
    at = events["occurred_at"]
    offsets = (at - at.min()).dt.total_microseconds().to_numpy().astype(np.float64) / 1e6 / replay.speed
    return events, offsets
