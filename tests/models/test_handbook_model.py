"""The Handbook benchmark's protocol: time split, label delay, known-compromised cards, card precision@100.

The protocol pieces are checked on tiny hand-made frames; the reduced end-to-end run (fewer trees, 55 days of
history) needs ../shared/datasets/handbook and is skipped without it. The full run is
`benchmarks/handbook_model.py`; its figures are in docs/benchmarks/models.md.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import msgspec
import polars as pl
import pytest

from models import load_bundle
from models.protocol import card_precision_at_k, remove_known_compromised
from models.split import Periods, period_split

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "handbook_model.py"
DATA = ROOT.parent / "shared" / "datasets" / "handbook" / "transactions.parquet"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("handbook_model", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["handbook_model"] = module
    spec.loader.exec_module(module)
    return module


def test_card_precision_takes_each_cards_max_and_drops_cards_found_on_earlier_days() -> None:
    df = pl.DataFrame(
        {
            "day": [1, 1, 1, 1, 1, 2, 2, 2, 2],
            "card": ["a", "a", "b", "c", "d", "a", "b", "c", "d"],
            "fraud": [0, 1, 0, 1, 0, 1, 1, 0, 0],
            "score": [0.9, 0.1, 0.8, 0.2, 0.05, 0.99, 0.7, 0.1, 0.6],
        }
    )
    # day 1, top 2 by max score: a (0.9, fraud via its other row), b (0.8, genuine) -> 1/2; a is now detected.
    # day 2 without a: b (0.7, fraud), d (0.6) -> 1/2.
    assert card_precision_at_k(df, day="day", card="card", label="fraud", score="score", k=2) == 0.5
    # k larger than the cards of a day still divides by k: day 1 -> 2/10, day 2 (b, c, d) -> 1/10
    assert card_precision_at_k(df, day="day", card="card", label="fraud", score="score", k=10) == pytest.approx(0.15)


def test_known_compromised_cards_leave_the_test_days_once_their_fraud_is_known() -> None:
    # train days 0-1, delay 2, test days 4-5: on test day d, frauds up to day d - 3 are known
    df = pl.DataFrame(
        {
            "day": [0, 1, 1, 2, 3, 4, 4, 4, 4, 5, 5, 5, 5],
            "card": ["a", "b", "x", "c", "d", "a", "b", "c", "d", "a", "b", "c", "d"],
            "fraud": [1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0],
        }
    )
    test = remove_known_compromised(
        df, day="day", card="card", label="fraud", train_days=(0, 1), test_days=(4, 5), delay_days=2
    )
    # day 4 knows a (day 0); c's fraud (day 2) is known from day 5, d's (day 3) only from day 6
    assert test.select("day", "card").rows() == [(4, "b"), (4, "c"), (4, "d"), (5, "b"), (5, "d")]


def test_periods_split_at_their_boundaries_and_may_calibrate_in_sample() -> None:
    t0 = dt.datetime(2018, 7, 25, tzinfo=dt.UTC)
    times = [t0 + dt.timedelta(hours=12 * i) for i in range(30)]
    df = pl.DataFrame({"t": times, "i": range(30)})
    day = dt.timedelta(days=1)
    parts = period_split(
        df, "t", Periods(calibration_start=t0 + 6 * day, gap_start=t0 + 7 * day, test_start=t0 + 14 * day)
    )
    assert (parts.train["i"].to_list(), parts.calibration["i"].to_list()) == (list(range(12)), [12, 13])
    assert (parts.gap["i"].to_list(), parts.test["i"].to_list()) == (list(range(14, 28)), [28, 29])
    same = period_split(
        df, "t", Periods(calibration_start=t0 + 7 * day, gap_start=t0 + 7 * day, test_start=t0 + 14 * day)
    )
    assert same.calibration["i"].to_list() == same.train["i"].to_list() == list(range(14))
    with pytest.raises(ValueError, match="out of order"):
        Periods(calibration_start=t0 + 8 * day, gap_start=t0 + 7 * day, test_start=t0 + 14 * day)


@pytest.mark.handbook
def test_reduced_handbook_run_follows_the_protocol(tmp_path: Path) -> None:
    if not DATA.exists():
        pytest.skip(f"the Handbook dataset is absent ({DATA}); see ../shared/datasets/handbook/README.md")
    from features.handbook_plus import HANDBOOK_PLUS

    bench = _bench()
    # 55 days: enough history for the 30-day windows and the delayed risk of the training week
    tx = pl.read_parquet(DATA).filter(pl.col("TX_TIME_DAYS").is_between(80, bench.TEST_DAYS[1]))
    frame = bench.feature_frame(tx, HANDBOOK_PLUS)
    train, test = bench.protocol_frames(frame)

    # time split and known-compromised removal: the Handbook's own split sizes
    assert (train.height, int(train["fraud"].sum())) == (67_240, 598)
    assert (test.height, int(test["fraud"].sum())) == (58_264, 385)
    assert test["day"].min() == 129 and test["event_id"].head(1).to_list() == ["1236698"]

    # the 7-day delay: terminal_risk_1d of a test event = known frauds / transactions of its terminal 7 days before,
    # a fraud counting only once its label is known (7 days after it, to the second)
    raw = tx.select(
        pl.col("TERMINAL_ID").cast(pl.String).alias("merchant_id"),
        "TX_TIME_DAYS",
        "TX_FRAUD",
        pl.col("TX_DATETIME").dt.replace_time_zone("UTC").alias("t"),
    )
    sample = test.filter(pl.col("terminal_risk_1d") > 0).head(20).vstack(test.filter(pl.col("day") == 130).head(20))
    for row in sample.iter_rows(named=True):
        then = raw.filter((pl.col("merchant_id") == row["merchant_id"]) & (pl.col("TX_TIME_DAYS") == row["day"] - 7))
        known = then.filter((pl.col("TX_FRAUD") == 1) & (pl.col("t") + dt.timedelta(days=7) <= row["occurred_at"]))
        expected = known.height / then.height if then.height else None
        assert row["terminal_risk_1d"] == (pytest.approx(expected) if expected is not None else None)

    config = msgspec.structs.replace(bench.CONFIG, num_trees=40, learning_rate=0.1)
    result = bench.run(frame, HANDBOOK_PLUS, config=config, out_dir=tmp_path, version="reduced")
    bundle = load_bundle(result.bundle)
    manifest = bundle.manifest
    assert manifest.periods == bench.periods()
    assert (manifest.rows.train, manifest.rows.calibration, manifest.rows.gap, manifest.rows.test) == (
        train.filter(pl.col("day") < 121).height,
        train.filter(pl.col("day") == 121).height,
        0,
        58_264,
    )
    assert manifest.metrics.auc == pytest.approx(result.auc)
    assert result.auc > 0.8 and result.average_precision > 0.5 and result.card_precision_100 > 0.2

    # online (the compiled stage the engine calls, one row at a time) = offline (the frame path of train and replay)
    assert bundle.scorer.native is not None
    rows = test.head(300)
    offline = bundle.scorer.score_frame(rows)
    names = list(bundle.scorer.feature_names)
    for row, want in zip(rows.select(names).iter_rows(named=True), offline.iter_rows(named=True), strict=True):
        got = bundle.scorer.score_row(row)
        assert got.score == pytest.approx(want["score"], abs=1e-9, rel=0)
        assert got.calibrated == pytest.approx(want["calibrated"], abs=1e-9, rel=0)
        assert got.ecdf == pytest.approx(want["ecdf"], abs=1e-9, rel=0)
