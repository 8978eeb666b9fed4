"""Scenario files: strict validation naming the field, flags over scenario, synthetic mixes and timed replays."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from loadtest.cli import main, parse_options
from loadtest.scenario import load_replay, load_scenario
from loadtest.stub import StubServer

SCENARIOS = Path(__file__).resolve().parents[2] / "loadtest" / "scenarios"
HANDBOOK = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "handbook" / "transactions.parquet"


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _log(path: Path, n: int = 20) -> Path:
    """A handbook-shaped log: one payment per recorded second, every other one under 100 (the stub filters those)."""
    t0 = datetime(2018, 4, 1, 0, 0, 0)
    pl.DataFrame(
        {
            "TRANSACTION_ID": list(range(n)),
            "TX_DATETIME": [t0 + timedelta(seconds=i) for i in range(n)],
            "CUSTOMER_ID": [i % 4 for i in range(n)],
            "TERMINAL_ID": [100 + i % 3 for i in range(n)],
            "TX_AMOUNT": [50.0 if i % 2 else 150.0 for i in range(n)],
            "TX_FRAUD": [0] * n,
        }
    ).write_parquet(path)
    return path


REPLAY = """
duration: 2
warmup: 0
expect_filter_ratio: {min: 0.45, max: 0.55}
replay:
  path: log.parquet
  speed: 10
  columns: {card_id: CUSTOMER_ID, merchant_id: TERMINAL_ID, amount: TX_AMOUNT, occurred_at: TX_DATETIME}
  id_prefix: {card_id: "card-", merchant_id: "mer-"}
  defaults: {event_type: card_payment, mcc: "5411", currency: BRL, country: BR, channel: pos}
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rat: 5\n", "Object contains unknown field `rat`"),
        ("rate: -1\n", "Expected `float` > 0.0 - at `$.rate`"),
        ("arrivals: bursty\n", "Invalid enum value 'bursty' - at `$.arrivals`"),
        ("synthetic: {n_events: 10, fraud_rate: 0.9}\n", "Expected `float` <= 0.5 - at `$.synthetic.fraud_rate`"),
        ("synthetic: {n_event: 10}\n", "Object contains unknown field `n_event` - at `$.synthetic`"),
        ("expect_filter_ratio: {min: 0.8, max: 0.2}\n", "min (0.8) must not exceed max (0.2) - at `$.expect_filter_r"),
        ("replay: {path: x.parquet, speed: 2}\n", "speed needs `columns.occurred_at`"),
        ("replay: {path: x.parquet, colums: {}}\n", "Object contains unknown field `colums` - at `$.replay`"),
        ("synthetic: {n_events: 10}\nreplay: {path: x.parquet}\n", "give either `synthetic` or `replay`, not both"),
        ("rate: [1\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_bad_scenarios_exit_2_naming_file_and_field(
    tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, text)
    assert main(["--scenario", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ")
    assert message in err


def test_missing_scenario_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scenario", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read the scenario" in capsys.readouterr().err


def test_flags_win_over_the_scenario_which_wins_over_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "rate: 50\nduration: 7\nsla_p99_ms: 20\nexpect_filter_ratio: {min: 0.1, max: 0.2}\n")
    opts = parse_options(["--scenario", str(path), "--rate", "80", "--expect-filter-ratio", "0.3:0.4"])
    assert (opts.rate, opts.duration, opts.sla_p99_ms, opts.warmup) == (80.0, 7.0, 20.0, 2.0)
    assert opts.expect_filter_ratio == (0.3, 0.4)
    assert opts.scenario == path


@pytest.mark.parametrize("ratio", ["abc", "0.5", "0.8:0.2", "0:1.5"])
def test_bad_expect_filter_ratio_is_a_usage_error(ratio: str) -> None:
    try:
        code = main(["--expect-filter-ratio", ratio, "--no-progress"])
    except SystemExit as exc:  # argparse: not MIN:MAX at all
        code = int(str(exc.code))
    assert code == 2


def test_shipped_demo_scenario_is_valid() -> None:
    scenario, _ = load_scenario(SCENARIOS / "demo.yaml")
    assert scenario.synthetic is not None
    assert scenario.synthetic.n_cards == 1000
    assert scenario.expect_filter_ratio is not None
    opts = parse_options(["--scenario", str(SCENARIOS / "demo.yaml")])
    assert (opts.rate, opts.arrivals, opts.sla_p99_ms) == (200.0, "poisson", 50.0)


@pytest.mark.handbook
@pytest.mark.skipif(not HANDBOOK.exists(), reason="needs ../shared/datasets/handbook")
def test_shipped_handbook_scenario_maps_and_paces_the_log() -> None:
    scenario, base = load_scenario(SCENARIOS / "handbook.yaml")
    assert scenario.replay is not None
    events, offsets = load_replay(scenario.replay, base, 10.0)
    assert offsets is not None
    assert offsets.max() < 10.0
    assert set(events.columns) == {"card_id", "customer_id", "merchant_id", "amount", "occurred_at", "event_type",
                                   "mcc", "currency", "country", "channel"}  # fmt: skip
    assert events["card_id"][0] == "hb-card-596"


def test_replay_at_scaled_speed_sends_each_event_at_its_recorded_time(tmp_path: Path) -> None:
    _log(tmp_path / "log.parquet")
    path = _write(tmp_path, REPLAY)
    with StubServer() as stub:
        code = main(["--scenario", str(path), "--url", stub.url, "--json", str(tmp_path / "r.json"), "--no-progress",
                     "--html", str(tmp_path / "r.html")])  # fmt: skip
    doc = json.loads((tmp_path / "r.json").read_text())
    assert code == 0
    page = (tmp_path / "r.html").read_text()
    for alt in ("latency over time", "latency histogram", "latency by percentile"):
        assert f'alt="{alt}"' in page
    assert "<td>stub_small_amount</td><td>10</td><td>50.00%</td>" in page  # the per-rule table
    assert doc["run"]["arrivals"] == "replay"
    assert doc["count"] == 20  # 20 recorded seconds at 10x: all within the 2 s window
    assert doc["target_rate"] == 10.0
    assert doc["filter_ratio"] == 0.5
    assert doc["filter_ratio_met"] is True
    assert doc["per_rule"] == {"stub_small_amount": 10}


def test_filter_ratio_out_of_range_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _log(tmp_path / "log.parquet")
    path = _write(tmp_path, REPLAY)
    with StubServer() as stub:
        code = main(["--scenario", str(path), "--url", stub.url, "--expect-filter-ratio", "0.9:1", "--no-progress"])
    assert code == 1
    assert "FAIL: filter ratio 0.5000 vs expected 0.9:1" in capsys.readouterr().out


def test_replay_without_speed_cycles_the_log_at_the_rate(tmp_path: Path) -> None:
    _log(tmp_path / "log.parquet")
    path = _write(tmp_path, REPLAY.replace("  speed: 10\n", ""))
    with StubServer() as stub:
        code = main(["--scenario", str(path), "--url", stub.url, "--rate", "50", "--duration", "1",
                     "--json", str(tmp_path / "r.json"), "--no-progress"])  # fmt: skip
    doc = json.loads((tmp_path / "r.json").read_text())
    assert code == 0
    assert doc["count"] == 50
    assert doc["decisions"] == 50


def test_synthetic_scenario_drives_the_generator(tmp_path: Path) -> None:
    path = _write(tmp_path, "duration: 1\nwarmup: 0\nrate: 100\nsynthetic: {n_events: 300, seed: 3, n_cards: 20}\n")
    with StubServer() as stub:
        code = main(["--scenario", str(path), "--url", stub.url, "--json", str(tmp_path / "r.json"), "--no-progress"])
    doc = json.loads((tmp_path / "r.json").read_text())
    assert code == 0
    assert doc["decisions"] == 100
    assert 0 < doc["filter_ratio"] < 1  # the stub filters amounts under 100: the synthetic mix has both
