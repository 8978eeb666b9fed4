"""The synthetic traffic generator keeps its contract: schema, determinism, traffic shape and profile joins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import polars as pl
import pytest

from loadtest.synthetic import FraudMix, SyntheticConfig, SyntheticData, generate

CONFIG = SyntheticConfig(n_events=40_000, seed=11, days=10, n_cards=4_000, n_merchants=400)
UTC_US = pl.Datetime("us", "UTC")


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return generate(CONFIG, progress=False)


@pytest.fixture(scope="module")
def events(data: SyntheticData) -> pl.DataFrame:
    return data.events


def test_same_config_gives_identical_frames(data: SyntheticData) -> None:
    assert data.equals(generate(CONFIG))


def test_another_seed_gives_other_frames(data: SyntheticData) -> None:
    other = generate(msgspec.structs.replace(CONFIG, seed=12))
    assert not other.events.equals(data.events)
    assert not other.cards.equals(data.cards)


def test_events_have_the_exact_schema(events: pl.DataFrame) -> None:
    assert events.schema == pl.Schema(
        {
            "event_id": pl.String,
            "event_type": pl.String,
            "occurred_at": UTC_US,
            "card_id": pl.String,
            "customer_id": pl.String,
            "merchant_id": pl.String,
            "mcc": pl.String,
            "amount": pl.Float64,
            "currency": pl.String,
            "country": pl.String,
            "channel": pl.String,
            "device_id": pl.String,
            "ip": pl.String,
            "is_fraud": pl.Boolean,
            "typology": pl.String,
        }
    )
    assert events.height == CONFIG.n_events


def test_profiles_have_the_exact_schemas(data: SyntheticData) -> None:
    assert data.cards.schema == pl.Schema(
        {"card_id": pl.String, "customer_id": pl.String, "issuer_country": pl.String, "card_age_days": pl.Int64}
    )
    assert data.customers.schema == pl.Schema(
        {
            "customer_id": pl.String,
            "home_country": pl.String,
            "account_age_days": pl.Int64,
            "avg_amount_90d": pl.Float64,
            "txn_count_90d": pl.Int64,
        }
    )
    assert data.merchants.schema == pl.Schema(
        {
            "merchant_id": pl.String,
            "mcc": pl.String,
            "country": pl.String,
            "merchant_age_days": pl.Int64,
            "chargeback_rate_90d": pl.Float64,
        }
    )
    assert data.devices.schema == pl.Schema(
        {"device_id": pl.String, "device_age_days": pl.Int64, "n_cards_30d": pl.Int64}
    )


def test_values_are_well_formed(events: pl.DataFrame, data: SyntheticData) -> None:
    checks = events.select(
        event_type=(pl.col("event_type") == "card_payment").all(),
        ids=pl.col("event_id").str.contains(r"^evt-\d+$").all()
        & pl.col("card_id").str.contains(r"^card-\d+$").all()
        & pl.col("customer_id").str.contains(r"^cus-\d+$").all()
        & pl.col("merchant_id").str.contains(r"^mer-\d+$").all()
        & pl.col("device_id").drop_nulls().str.contains(r"^dev-\d+$").all(),
        mcc=pl.col("mcc").str.contains(r"^\d{4}$").all(),
        amount=(
            (pl.col("amount") > 0) & ((pl.col("amount") * 100).round() - pl.col("amount") * 100).abs().lt(1e-6)
        ).all(),
        channel=pl.col("channel").is_in(["pos", "ecommerce", "moto", "atm"]).all(),
        currency=pl.col("currency").is_in(["BRL", "USD", "EUR"]).all(),
        country=pl.col("country").str.contains(r"^[A-Z]{2}$").all(),
        ip=pl.col("ip").drop_nulls().str.contains(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$").all(),
        label=(pl.col("is_fraud") == (pl.col("typology") != "legit")).all(),
    )
    assert checks.row(0, named=True) == dict.fromkeys(checks.columns, True)
    assert data.merchants["chargeback_rate_90d"].is_between(0, 1).all()


def test_events_are_sorted_and_inside_the_period(events: pl.DataFrame) -> None:
    assert events["occurred_at"].is_sorted()
    assert events["occurred_at"].min() >= CONFIG.start  # type: ignore[operator]
    assert events["occurred_at"].max() < CONFIG.start + timedelta(days=CONFIG.days)  # type: ignore[operator]


def test_event_ids_are_unique(events: pl.DataFrame) -> None:
    assert events["event_id"].n_unique() == events.height


def test_nights_are_quieter_than_afternoons(events: pl.DataFrame) -> None:
    local_hour = events["occurred_at"].dt.offset_by(f"{CONFIG.utc_offset_hours}h").dt.hour()
    assert local_hour.is_between(2, 5).sum() * 5 < local_hour.is_between(14, 17).sum()


def test_fraud_rate_is_near_config_with_every_typology(events: pl.DataFrame) -> None:
    assert events["is_fraud"].mean() == pytest.approx(CONFIG.fraud_rate, abs=0.001)
    shares = dict(events.group_by("typology").len().iter_rows())
    assert set(shares) == {"legit", "card_testing", "account_takeover", "compromised_merchant"}
    assert shares["card_testing"] == pytest.approx(0.4 * CONFIG.n_events * CONFIG.fraud_rate, abs=1)


def test_fraud_mix_is_honoured() -> None:
    config = msgspec.structs.replace(
        CONFIG, n_events=5_000, fraud_rate=0.04, fraud_mix=FraudMix(account_takeover=0, compromised_merchant=0)
    )
    typologies = set(generate(config).events.filter("is_fraud")["typology"])
    assert typologies == {"card_testing"}


def test_about_two_thirds_pass_the_demo_pre_policy(events: pl.DataFrame) -> None:
    approved = (pl.col("channel") == "pos") & (pl.col("country") == "BR") & (pl.col("amount") < 150)
    assert 0.55 <= events.select(approved.mean()).item() <= 0.80


def test_sanctioned_and_foreign_shares_are_small(events: pl.DataFrame) -> None:
    assert 0.0005 <= events["country"].is_in(["KP", "IR"]).mean() <= 0.004  # type: ignore[operator]
    assert 0.01 <= (events["country"] != "BR").mean() <= 0.08  # type: ignore[operator]


def test_device_and_ip_are_null_exactly_for_card_present(events: pl.DataFrame) -> None:
    card_present = events["channel"].is_in(["pos", "atm"])
    assert (events["device_id"].is_null() == card_present).all()
    assert (events["ip"].is_null() == card_present).all()
    others = events.drop("device_id", "ip")
    assert others.null_count().sum_horizontal().item() == 0


def test_card_testing_is_bursts_of_tiny_ecommerce_amounts(events: pl.DataFrame) -> None:
    testing = events.filter(pl.col("typology") == "card_testing")
    assert testing["amount"].is_between(0.5, 3.0).all()
    assert (testing["channel"] == "ecommerce").all()
    per_card = testing.group_by("card_id").agg(pl.len(), span=pl.col("occurred_at").max() - pl.col("occurred_at").min())
    assert per_card["len"].min() >= 5  # type: ignore[operator]
    assert per_card["span"].median() < timedelta(minutes=15)  # type: ignore[operator]
    cards_per_device = testing.group_by("device_id").agg(pl.col("card_id").n_unique())
    assert cards_per_device["card_id"].max() > 1  # type: ignore[operator]


def test_account_takeover_comes_from_unprofiled_devices_abroad_or_large(data: SyntheticData) -> None:
    takeover = data.events.filter(pl.col("typology") == "account_takeover").join(data.customers, on="customer_id")
    assert takeover["device_id"].is_in(data.devices["device_id"].implode()).sum() == 0
    unusual = (pl.col("country") != pl.col("home_country")) | (pl.col("amount") > 2 * pl.col("avg_amount_90d"))
    assert takeover.select(unusual.mean()).item() > 0.7


def test_compromised_merchants_show_more_chargebacks(data: SyntheticData) -> None:
    skimmed = data.events.filter(pl.col("typology") == "compromised_merchant")["merchant_id"].unique().implode()
    rates = data.merchants.group_by(pl.col("merchant_id").is_in(skimmed).alias("skimmed")).agg(
        pl.col("chargeback_rate_90d").median()
    )
    by_group = dict(rates.iter_rows())
    assert by_group[True] > 2 * by_group[False]


def test_every_event_entity_has_a_profile_but_new_cards_and_devices(data: SyntheticData) -> None:
    events = data.events
    assert events.join(data.customers, on="customer_id", how="anti").height == 0
    assert events.join(data.merchants, on="merchant_id", how="anti").height == 0
    # Cards issued after the start have no profile: about CONFIG.new_card_share of the cards, not more.
    unprofiled = events.join(data.cards, on="card_id", how="anti")["card_id"].n_unique()
    assert 0 < unprofiled <= 2 * CONFIG.new_card_share * events["card_id"].n_unique()
    # A profiled card belongs to the customer the events name.
    owners = events.select("card_id", "customer_id").unique().join(data.cards, on="card_id", suffix="_profile")
    assert (owners["customer_id"] == owners["customer_id_profile"]).all()
    # Devices without a profile are new ones: takeovers' and a few legit ones.
    new_devices = events.filter(pl.col("device_id").is_not_null()).join(data.devices, on="device_id", how="anti")
    legit_share = (new_devices["typology"] == "legit").sum() / events["device_id"].count()
    assert 0 < legit_share <= 2 * CONFIG.new_device_share
    # Profiles hold only entities that appear in the events.
    assert data.cards.join(events, on="card_id", how="anti").height == 0
    assert data.devices.join(events, on="device_id", how="anti").height == 0


def test_cards_are_reused_heavily(events: pl.DataFrame) -> None:
    per_card = events.group_by("card_id").len()["len"]
    assert per_card.median() >= 3  # type: ignore[operator]
    assert per_card.max() >= 10 * per_card.median()  # type: ignore[operator]


def test_write_then_read_round_trips(data: SyntheticData, tmp_path: Path) -> None:
    data.write(tmp_path / "set")
    assert sorted(path.name for path in (tmp_path / "set").iterdir()) == [
        "cards.parquet",
        "customers.parquet",
        "devices.parquet",
        "events.parquet",
        "merchants.parquet",
    ]
    assert SyntheticData.read(tmp_path / "set").equals(data)


def test_read_refuses_a_wrong_schema(data: SyntheticData, tmp_path: Path) -> None:
    data.write(tmp_path)
    data.cards.with_columns(pl.col("card_age_days").cast(pl.Int32)).write_parquet(tmp_path / "cards.parquet")
    with pytest.raises(ValueError, match=r"^cards: expected columns \[.*card_age_days: Int64\], got"):
        SyntheticData.read(tmp_path)


def test_read_names_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing events\.parquet, cards\.parquet"):
        SyntheticData.read(tmp_path)


def test_config_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        SyntheticConfig(start=datetime(2026, 10, 1))


def test_config_decodes_with_bounds_and_refuses_unknown_fields() -> None:
    decoded = msgspec.convert({"n_events": 10, "start": "2026-10-01T00:00:00Z"}, SyntheticConfig)
    assert decoded.start == datetime(2026, 10, 1, tzinfo=UTC)
    with pytest.raises(msgspec.ValidationError, match=r"Expected `float` <= 0.5 - at `\$.fraud_rate`"):
        msgspec.convert({"fraud_rate": 0.9}, SyntheticConfig)
    with pytest.raises(msgspec.ValidationError, match="unknown field `n_event`"):
        msgspec.convert({"n_event": 10}, SyntheticConfig)


def test_population_sizes_default_to_the_number_of_events() -> None:
    config = SyntheticConfig(n_events=30_000)
    assert (config.card_count, config.merchant_count) == (3_000, 300)
    assert SyntheticConfig(n_events=100).merchant_count == 50
    assert generate(config).events["card_id"].n_unique() <= 3_000


def test_tiny_and_fraudless_configs_work() -> None:
    tiny = generate(SyntheticConfig(n_events=1, n_cards=10, n_merchants=50))
    assert tiny.events.height == 1
    clean = generate(msgspec.structs.replace(CONFIG, n_events=2_000, fraud_rate=0.0))
    assert not clean.events["is_fraud"].any()
