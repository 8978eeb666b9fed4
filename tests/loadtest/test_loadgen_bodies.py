"""Request bodies: labels dropped, RFC 3339 times, a fresh event_id per event; response framing of the client."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import polars as pl
import pytest

from loadtest.bodies import encode_bodies, http_request, load_events, new_run_id
from loadtest.client import _dechunk
from loadtest.worker import count_decisions


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": ["a", "b"],
            "occurred_at": [datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC), datetime(2026, 11, 22, 10, 0, 1, 500000)],
            "amount": [12.5, 3.0],
            "is_fraud": [True, False],
            "typology": ["ato", None],
        }
    )


def test_events_lose_labels_and_get_rfc3339_times(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    _frame().write_parquet(path)
    events = load_events(2, 0, path)
    assert events.columns == ["event_id", "occurred_at", "amount"]
    assert events["occurred_at"].to_list() == ["2026-11-22T10:00:00.000000Z", "2026-11-22T10:00:01.500000Z"]


def test_every_request_gets_a_fresh_event_id_and_events_cycle_in_order() -> None:
    run_id = new_run_id()
    events = _frame().drop("is_fraud", "typology")
    bodies = [msgspec.json.decode(b) for b in encode_bodies(events, 5, 1, run_id)]
    assert [b["event_id"] for b in bodies] == [f"{run_id}-{i}" for i in range(5)]
    assert [b["amount"] for b in bodies] == [12.5, 3.0, 12.5, 3.0, 12.5]
    batches = [msgspec.json.decode(b) for b in encode_bodies(events, 2, 3, run_id)]
    ids = [e["event_id"] for batch in batches for e in batch["events"]]
    assert len(ids) == len(set(ids)) == 6
    assert new_run_id() != run_id


def test_synthetic_events_are_ready_to_send() -> None:
    pytest.importorskip("loadtest.synthetic")
    events = load_events(200, 3, None)
    assert "is_fraud" not in events.columns
    assert "typology" not in events.columns
    assert events.height > 0
    assert events["occurred_at"].str.ends_with("Z").all()


def test_http_request_bytes() -> None:
    req = http_request("POST", "/v1/decide", "h:1", b"{}", "k")
    assert req == (
        b"POST /v1/decide HTTP/1.1\r\nHost: h:1\r\nUser-Agent: fraudgate-loadtest\r\nAccept: application/json\r\n"
        b"Authorization: Bearer k\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    assert b"Authorization" not in http_request("GET", "/healthz", "h", None, None)


def test_chunked_bodies_are_reassembled_only_when_complete() -> None:
    whole = bytearray(b"HEAD4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n")
    assert _dechunk(whole, 4) == b"Wikipedia"
    for cut in range(4, len(whole) - 1):
        assert _dechunk(whole[:cut], 4) is None


def test_decisions_are_tallied_from_single_and_batch_bodies() -> None:
    one = b'{"stage":"pre_policy","action":"deny","degraded":true,"score":null,"extra":[1]}'
    batch = b'{"decisions":[{"stage":"model","action":"approve","degraded":false},{"error":"bad amount"}]}'
    single = count_decisions([one, b"not json", None, one], [True, True, True, False], "single")
    assert (single.total, single.unparsed, single.degraded) == (1, 1, 1)
    assert single.stage == {"pre_policy": 1}
    batched = count_decisions([batch], [True], "batch")
    assert batched.stage == {"model": 1, "error": 1}
    assert batched.action == {"approve": 1, "error": 1}
