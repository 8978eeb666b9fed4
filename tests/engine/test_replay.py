"""Replay in batch: the Polars decisions agree with the policy's row loop, chunks agree with the whole log, and the
command writes its diff, report and tuning suggestions."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from engine.commands import replay as replay_cmd
from engine.context import current_model_path, event_schema
from engine.policy import load_policy
from engine.replay import load_config, replay
from engine.replay.decide import decisions
from engine.replay.inputs import open_events
from engine.replay.tune import suggest
from engine.settings import Settings
from engine.training import read_profiles

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "card_payment.yaml"
HANDBOOK = ROOT.parent / "shared" / "datasets" / "handbook" / "transactions.parquet"


def _candidate(tmp_path: Path) -> Path:
    """The served policy with a lower deny cut-off and a wider card-present approval."""
    text = POLICY.read_text().replace('"ecdf >= 0.999"', '"ecdf >= 0.99"').replace("amount < 150", "amount < 300")
    path = tmp_path / "candidate.yaml"
    path.write_text(text)
    return path


def test_polars_decisions_equal_the_policy_row_loop(small_data: Any) -> None:
    policy = load_policy(POLICY, event_schema())
    events = small_data[1].events.head(3_000)
    n = events.height
    # scores spread over the whole range, nulls included, so every threshold row gets hit
    score = pl.Series("score", [(i * 7919 % 1000) / 1000 for i in range(n)])
    df = events.with_columns(score).with_columns(calibrated=pl.col("score") ** 3, ecdf=pl.col("score").sqrt())
    got = decisions(df, policy, True, "")
    for row, out in zip(df.iter_rows(named=True), got.iter_rows(named=True), strict=True):
        rule, shadow = policy.pre_policy(row)
        if rule is not None:
            want = (rule.action, "pre_policy", rule.name)
        else:
            action, name = policy.threshold(row)
            want = (action, "model", name)
        assert (out["action"], out["stage"], out["rule"]) == want, row
        assert out["shadow"] == shadow
    assert set(got["stage"]) == {"pre_policy", "model"} and set(got["action"]) == {"approve", "review", "deny"}


def test_no_model_gives_the_fallback(small_data: Any) -> None:
    policy = load_policy(POLICY, event_schema())
    got = decisions(small_data[1].events.head(500), policy, False, "x_")
    model = got.with_row_index("_i").filter(pl.col("x_stage") != "pre_policy")
    assert set(model["x_stage"]) == {"fallback"}
    # the batch form of the fallback table gives what its row form gives, event by event
    events = small_data[1].events.head(500).to_dicts()
    expected = [policy.fallback(events[i])[0] for i in model["_i"]]
    assert model["x_action"].to_list() == expected and {"approve", "review"} <= set(expected)
    assert model["x_degraded"].all() and model["x_score"].is_null().all()


def test_chunked_replay_equals_the_whole_log(small_data: Any, model_dir: Path, tmp_path: Path) -> None:
    base = load_config("baseline", POLICY, current_model_path(model_dir))
    cand = load_config("candidate", _candidate(tmp_path), current_model_path(model_dir))
    source, profiles = open_events(small_data[0]), read_profiles(small_data[0])
    whole = replay(source, profiles, base, cand, chunk_rows=1_000_000).frame
    chunked = replay(source, profiles, base, cand, chunk_rows=3_000).frame
    assert whole.height == 20_000
    assert chunked.equals(whole)
    changed = whole.filter(pl.col("base_action") != pl.col("cand_action"))
    assert changed.height > 0
    assert whole["is_fraud"].sum() == small_data[1].events["is_fraud"].sum()  # labels taken from the log


def test_labels_file_joins_by_event_id(small_data: Any, model_dir: Path, tmp_path: Path) -> None:
    config = load_config("baseline", POLICY, current_model_path(model_dir))
    events = small_data[1].events.head(2_000)
    events.drop("is_fraud").write_parquet(tmp_path / "events.parquet")
    events.select("event_id", "is_fraud").tail(500).write_parquet(tmp_path / "labels.parquet")
    labels = pl.read_parquet(tmp_path / "labels.parquet")
    out = replay(open_events(tmp_path / "events.parquet"), {}, config, config, labels=labels).frame
    assert out["is_fraud"].null_count() == 1_500
    assert out["is_fraud"].tail(500).to_list() == events["is_fraud"].tail(500).to_list()


def test_tuning_meets_its_targets(small_data: Any, model_dir: Path) -> None:
    config = load_config("baseline", POLICY, current_model_path(model_dir))
    df = replay(open_events(small_data[0]), read_profiles(small_data[0]), config, config).frame
    days = 10.0
    t = suggest(df, days, deny_rate=0.01, reviews_per_day=40)
    deny, review = t["deny"], t["review"]
    assert deny["deny_rate"] <= 0.01 and review["reviews_per_day"] <= 40
    assert review["ecdf"] < deny["ecdf"]
    denied = (
        t["pre_policy_deny"]
        + df.filter((pl.col("cand_stage") == "model") & (pl.col("cand_ecdf") >= deny["ecdf"])).height
    )
    assert denied / df.height == pytest.approx(deny["deny_rate"])
    assert 0 < deny["recall"] < review["recall"] + deny["recall"] <= 1
    assert t["curve"]["recall"][-1] == pytest.approx(
        df.filter(pl.col("cand_stage") == "model")["is_fraud"].sum() / df["is_fraud"].sum()
    )


def test_command_writes_terminal_json_and_html(
    small_data: Any, model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    replay_cmd.register(parser.add_subparsers())
    args = parser.parse_args(
        ["replay", "--events", str(small_data[0]), "--candidate-policy", str(_candidate(tmp_path)),
         "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html"), "--tune-deny-rate", "0.01",
         "--tune-reviews-per-day", "50", "--quiet", "--sample", "5"]
    )  # fmt: skip
    assert args.handler(args, Settings(model_dir=model_dir, policy_dir=POLICY.parent, data_dir=tmp_path)) == 0
    out = capsys.readouterr().out
    assert "changed decisions:" in out and "review -> deny" in out and "suggested deny: ecdf >= " in out
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["events"] == 20_000 and summary["labelled"]
    assert summary["changed"]["count"] == sum(t["count"] for t in summary["changed"]["transitions"]) > 0
    assert len(summary["changed"]["sample"]) == 5
    assert set(summary["segments"]) == {"channel", "country", "mcc"}
    b, c = summary["baseline"], summary["candidate"]
    assert (
        c["pre_policy_filter_ratio"]["domestic_card_present_small"]
        > b["pre_policy_filter_ratio"]["domestic_card_present_small"]
    )
    assert c["outcomes"]["deny"]["recall"] >= b["outcomes"]["deny"]["recall"]
    page = (tmp_path / "r.html").read_text()
    assert (
        page.count("data:image/png;base64,") == 3 and "<script" not in page and "http" not in page.split("</style>")[1]
    )


@pytest.mark.handbook
@pytest.mark.skipif(not HANDBOOK.exists(), reason=f"the Handbook data set is absent ({HANDBOOK})")
def test_handbook_maps_onto_card_payment_events() -> None:
    source = open_events(HANDBOOK)
    assert source.kind == "handbook" and source.profiles_dir is None
    head = source.events.head(3).collect()
    assert head["event_id"].to_list() == ["0", "1", "2"]
    assert head["card_id"].to_list() == head["customer_id"].to_list()
    assert set(head["mcc"]) == {"5999"} and set(head["country"]) == {"BR"} and set(head["channel"]) == {"ecommerce"}
    assert str(head.schema["occurred_at"]) == "Datetime(time_unit='us', time_zone='UTC')"
    assert head["is_fraud"].dtype == pl.Boolean
