"""Events to send and the complete HTTP requests carrying them, all encoded before the clock starts.

Events come from the synthetic generator (realistic entity reuse, so the engine's velocity features see repeat
cards) or from a Parquet file replayed in order; either way they are cycled when the run needs more. Every event gets
a fresh `event_id` prefixed with the run id, so the engine's idempotency never dedupes one run against another.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import polars as pl

if TYPE_CHECKING:
    from loadtest.synthetic import SyntheticConfig

DROPPED_COLUMNS = ("is_fraud", "typology")  # labels: the engine must never see them
MAX_SYNTHETIC_EVENTS = 50_000  # beyond this, events are reused with new ids: generation time stays bounded


def new_run_id() -> str:
    """A short random id for this run, valid inside an `event_id`."""
    return f"lt{secrets.token_hex(4)}"


def load_events(
    n_events: int, seed: int, parquet: Path | None, synthetic: SyntheticConfig | None = None
) -> pl.DataFrame:
    """Events ready to serialize, from `parquet`, else from the generator (`synthetic`, or a default config)."""
    if parquet is not None:
        frame = pl.read_parquet(parquet)
    else:
        from loadtest.synthetic import SyntheticConfig, generate  # lazy: only decide runs need it

        config = synthetic or SyntheticConfig(n_events=min(n_events, MAX_SYNTHETIC_EVENTS), seed=seed)
        frame = generate(config).events
    if frame.height == 0:
        raise ValueError(f"no events to send (file {parquet})" if parquet else "the synthetic generator gave no events")
    return prepare_events(frame)


def prepare_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Labels dropped, `occurred_at` as RFC 3339 text in UTC (`...Z`); naive timestamps are taken as UTC."""
    frame = frame.drop([c for c in DROPPED_COLUMNS if c in frame.columns])
    dtype = frame.schema.get("occurred_at")
    if isinstance(dtype, pl.Datetime):
        ts = pl.col("occurred_at")
        ts = ts.dt.convert_time_zone("UTC") if dtype.time_zone else ts  # naive timestamps are taken as UTC
        frame = frame.with_columns(ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").alias("occurred_at"))
    return frame


def encode_bodies(events: pl.DataFrame, n_requests: int, batch_size: int, run_id: str) -> list[bytes]:
    """JSON bodies: one event each, or `{"events": [...]}` of `batch_size` events; rows taken in order, cycled."""
    rows: list[dict[str, Any]] = events.to_dicts()
    encode = msgspec.json.Encoder().encode
    bodies: list[bytes] = []
    k = 0
    for i in range(n_requests):
        batch = []
        for j in range(batch_size):
            event = dict(rows[k % len(rows)])
            event["event_id"] = f"{run_id}-{i}" if batch_size == 1 else f"{run_id}-{i}-{j}"
            batch.append(event)
            k += 1
        bodies.append(encode(batch[0]) if batch_size == 1 else encode({"events": batch}))
    return bodies


def http_request(method: str, path: str, host: str, body: bytes | None, api_key: str | None) -> bytes:
    """A complete HTTP/1.1 keep-alive request."""
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: fraudgate-loadtest", "Accept: application/json"]
    if api_key:
        head.append(f"Authorization: Bearer {api_key}")
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")
