"""Replay gives the live engine's answers: a recorded session through the real app, drained by the ETL, replayed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
import pytest
import redis
from litestar.testing import TestClient

from engine.app import create_app
from engine.context import Context, current_model_path, policy_path
from engine.etl import drain, read_output
from engine.replay import load_config, replay
from engine.replay.inputs import open_events
from engine.settings import Settings, parse_api_keys
from features import keys
from features.card_payment import CARD_PAYMENT
from features.loader import load_profiles
from features.specs import with_timeouts

DECIDE = {"Authorization": "Bearer s3cret"}
N_EVENTS = 300


@pytest.fixture
def live(
    redis_url: str, model_dir: Path, tmp_path: Path, profiles: dict[str, pl.DataFrame]
) -> Iterator[tuple[TestClient[Any], Settings]]:
    """The real app on the session's Redis with the small model and generous lookup timeouts."""
    r = redis.Redis.from_url(redis_url)
    load_profiles(r, CARD_PAYMENT, profiles, snapshot="test", progress=False)
    r.close()
    settings = Settings(
        redis_url=redis_url, api_keys=parse_api_keys("p:s3cret:decide"), model_dir=model_dir, data_dir=tmp_path
    )
    ctx = Context.build(settings, with_timeouts(CARD_PAYMENT, 2_000))
    ctx.engine.loaded = msgspec.structs.replace(
        ctx.engine.loaded, policy=msgspec.structs.replace(ctx.engine.loaded.policy, sla_ms=5_000)
    )
    with TestClient(create_app(settings, ctx)) as c:
        yield c, settings


def _session(events: pl.DataFrame) -> list[dict[str, Any]]:
    """The busiest cards' events over the whole period, so velocity windows and day buckets fill up."""
    busiest = events.group_by("card_id").len().sort(["len", "card_id"], descending=[True, False]).head(60)["card_id"]
    rows = events.filter(pl.col("card_id").is_in(busiest.implode())).head(N_EVENTS).drop("is_fraud", "typology")
    out = rows.to_dicts()
    for row in out:
        row["occurred_at"] = row["occurred_at"].isoformat()
        for k in ("customer_id", "device_id", "ip"):
            if row[k] is None:
                del row[k]
    return out


def test_replay_of_a_recorded_session_equals_live_decisions(
    live: tuple[TestClient[Any], Settings], small_data: Any, redis_url: str, tmp_path: Path
) -> None:
    client, settings = live
    stream = redis.Redis.from_url(redis_url)
    events = _session(small_data[1].events)
    for i, event in enumerate(events):
        r = client.post("/v1/decide", json=event, headers=DECIDE)
        assert r.status_code == 200, r.text
        # one at a time, as the offline twin assumes: the next read sees this event's velocity update
        deadline = time.monotonic() + 10
        while stream.xlen(keys.DECISION_STREAM) < i + 1 and time.monotonic() < deadline:
            time.sleep(0.002)
    out = tmp_path / "etl"
    drain(stream, out, once=True, progress=False)
    stream.close()
    recorded = read_output(out)
    assert recorded.height == N_EVENTS and not recorded["degraded"].any()

    config = load_config("baseline", policy_path(settings), current_model_path(settings.model_dir))
    result = replay(open_events(out), dict(small_data_profiles(small_data)), config, config)
    assert result.frame["event_id"].to_list() == [e["event_id"] for e in events]  # arrival order kept
    assert set(recorded["policy_version"]) == {config.policy.version}
    assert config.bundle is not None and set(recorded["model_version"]) == {config.bundle.manifest.version}

    both = recorded.join(result.frame, on="event_id", how="inner")
    assert both.height == N_EVENTS
    stages = set(both["stage"])
    assert {"pre_policy", "model"} <= stages  # the session exercises both paths
    for col in ("action", "stage", "rule"):
        diff = both.filter(pl.col(col) != pl.col(f"base_{col}"))
        assert diff.is_empty(), diff.select("event_id", col, f"base_{col}")
    for col in ("score", "calibrated", "ecdf"):
        assert (both[col].is_null() == both[f"base_{col}"].is_null()).all()
        gap = both.select((pl.col(col) - pl.col(f"base_{col}")).abs().max()).item()
        assert gap is None or gap <= 1e-9, (col, gap)
    # the velocity features were not all zero: the replay had history to get right
    assert both.filter(pl.col("stage") == "model").height >= 20


def small_data_profiles(small_data: Any) -> dict[str, pl.DataFrame]:
    """The session's profile tables, read back from the generated folder as `fraudgate replay --profiles` does."""
    from engine.training import read_profiles

    return read_profiles(small_data[0])
