"""``generate``: populations, legit traffic in chunks, the fraud typologies, then one pass to strings and profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import polars as pl
from tqdm import tqdm

from loadtest.synthetic import catalog as cat
from loadtest.synthetic.config import SyntheticConfig
from loadtest.synthetic.entities import I64, Population, populate
from loadtest.synthetic.events import NONE, Batch, legit_events
from loadtest.synthetic.fraud import FraudsterDevices, account_takeover, card_testing, compromised_merchant, split
from loadtest.synthetic.tables import UTC_US, SyntheticData

CHUNK: Final = 100_000
"""Legit events per chunk. Each chunk has its own random stream keyed by its number, so this constant is part of
what a seed means: changing it changes the data."""
AUTO_PROGRESS_EVENTS: Final = 1_000_000
"""From this many events on, ``generate`` shows a progress bar unless told otherwise."""

# Stream keys: each part of the generation draws from its own stream, so adding draws to one part leaves the
# others' data unchanged.
_POPULATION, _LEGIT, _FRAUD, _PROFILES = range(4)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Device numbers are scrambled by an affine bijection modulo 10**10, so that an id does not reveal whether the
# device is a customer's, a fraudster's or a new one (they live in separate index ranges).
_DEVICE_MODULUS: Final = 10**10
_DEVICE_MULTIPLIER: Final = 7_919_312_421


def generate(config: SyntheticConfig, progress: bool | None = None) -> SyntheticData:
    """Generate the events and profiles that ``config`` describes; the same config gives identical frames.

    ``progress``: show a tqdm bar over the chunks; by default only for runs of a million events or more.
    """
    show = config.n_events >= AUTO_PROGRESS_EVENTS if progress is None else progress
    mix = config.fraud_mix
    n_fraud = min(config.n_events, round(config.n_events * config.fraud_rate))
    n_testing, n_takeover, n_skimmed = (
        split(n_fraud, (mix.card_testing, mix.account_takeover, mix.compromised_merchant)) if n_fraud else [0, 0, 0]
    )
    n_legit = config.n_events - n_fraud
    population = populate(config, _rng(config, _POPULATION))

    with tqdm(total=config.n_events, unit="event", desc="synthetic events", disable=not show) as bar:
        batches: list[Batch] = []
        for number, first in enumerate(range(0, n_legit, CHUNK)):
            size = min(CHUNK, n_legit - first)
            batches.append(legit_events(population, config, _rng(config, _LEGIT, number), size, first))
            bar.update(size)
        rng = _rng(config, _FRAUD)
        testing, fraudster_devices = card_testing(population, config, rng, n_testing)
        skimmed, compromised = compromised_merchant(population, config, rng, n_skimmed)
        batches += [testing, account_takeover(population, config, rng, n_takeover), skimmed]
        bar.update(n_fraud)
        bar.set_description("synthetic events: strings and profiles")
        events = Batch.concat(batches)
        events = events.take(np.argsort(events.at_us, kind="stable").astype(np.int64))
        profiles = _rng(config, _PROFILES)
        return SyntheticData(
            events=_events_frame(events, population, config),
            cards=_cards(events, population),
            customers=_customers(events, population, config, n_legit, profiles),
            merchants=_merchants(events, population, compromised, profiles),
            devices=_devices(events, population, fraudster_devices, profiles),
        )


def _rng(config: SyntheticConfig, *stream: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, *stream])


def _id(prefix: str, column: str, digits: int) -> pl.Expr:
    return pl.format(prefix + "{}", pl.col(column).cast(pl.String).str.zfill(digits))


def _device_id(column: str) -> pl.Expr:
    scrambled = (pl.col(column) * _DEVICE_MULTIPLIER + 12_345) % _DEVICE_MODULUS
    return pl.format("dev-{}", scrambled.cast(pl.String).str.zfill(10))


def _label(column: str, labels: tuple[str, ...]) -> pl.Expr:
    return pl.col(column).replace_strict(dict(enumerate(labels)), return_dtype=pl.String)


def _events_frame(events: Batch, population: Population, config: SyntheticConfig) -> pl.DataFrame:
    start_us = (config.start - _EPOCH) // timedelta(microseconds=1)
    country = population.merchant_country[events.merchant]
    codes = pl.DataFrame(
        {
            "n": np.arange(len(events.card), dtype=np.int64),
            "at": start_us + events.at_us,
            "card": events.card,
            "customer": population.card_owner[events.card],
            "merchant": events.merchant,
            "mcc": population.merchant_mcc[events.merchant],
            "amount": events.amount,
            "currency": cat.COUNTRY_CURRENCY[country],
            "country": country,
            "channel": events.channel,
            "device": events.device,
            "ip": events.ip,
            "typology": events.typology,
        }
    )
    has_device = pl.col("device") != NONE
    octets = [(pl.col("ip") // (1 << shift) % 256).cast(pl.String) for shift in (24, 16, 8, 0)]
    return codes.select(
        event_id=_id("evt-", "n", 9),
        event_type=pl.lit("card_payment", dtype=pl.String),
        occurred_at=pl.col("at").cast(UTC_US),
        card_id=_id("card-", "card", 7),
        customer_id=_id("cus-", "customer", 7),
        merchant_id=_id("mer-", "merchant", 6),
        mcc=_label("mcc", cat.MCCS),
        amount=pl.col("amount"),
        currency=_label("currency", cat.CURRENCIES),
        country=_label("country", cat.COUNTRIES),
        channel=_label("channel", cat.CHANNELS),
        device_id=pl.when(has_device).then(_device_id("device")),
        ip=pl.when(pl.col("ip") != NONE).then(pl.concat_str(octets, separator=".")),
        is_fraud=pl.col("typology") != cat.LEGIT,
        typology=_label("typology", cat.TYPOLOGIES),
    )


def _cards(events: Batch, population: Population) -> pl.DataFrame:
    """Profiles of the cards in the events, except those issued after the start (no history yet)."""
    card = np.unique(events.card)
    card = card[~population.card_new[card]]
    return pl.DataFrame(
        {
            "card": card,
            "customer": population.card_owner[card],
            "issuer_country": population.customer_home[population.card_owner[card]],
            "card_age_days": population.card_age_days[card],
        }
    ).select(
        card_id=_id("card-", "card", 7),
        customer_id=_id("cus-", "customer", 7),
        issuer_country=_label("issuer_country", cat.COUNTRIES),
        card_age_days=pl.col("card_age_days"),
    )


def _customers(
    events: Batch, population: Population, config: SyntheticConfig, n_legit: int, rng: np.random.Generator
) -> pl.DataFrame:
    """Profiles of the owners of the cards in the events, consistent with the traffic they generate."""
    pop = population
    customer = np.unique(pop.card_owner[events.card])
    # Expected legit payments in 90 days from the customer's established cards, at the period's rate.
    established = np.where(pop.card_new, 0.0, pop.card_weight)
    per_customer = np.bincount(pop.card_owner, weights=established, minlength=len(pop.customer_home))
    rate_90d = n_legit * per_customer[customer] / pop.card_weight.sum() * 90 / config.days
    avg = pop.customer_level[customer] * cat.MEAN_AMOUNT_FACTOR * rng.lognormal(0.0, 0.1, size=len(customer))
    return pl.DataFrame(
        {
            "customer": customer,
            "home_country": pop.customer_home[customer],
            "account_age_days": pop.customer_account_age_days[customer],
            "avg_amount_90d": np.round(avg, 2),
            "txn_count_90d": rng.poisson(rate_90d).astype(np.int64),
        }
    ).select(
        customer_id=_id("cus-", "customer", 7),
        home_country=_label("home_country", cat.COUNTRIES),
        account_age_days=pl.col("account_age_days"),
        avg_amount_90d=pl.col("avg_amount_90d"),
        txn_count_90d=pl.col("txn_count_90d"),
    )


def _merchants(events: Batch, population: Population, compromised: I64, rng: np.random.Generator) -> pl.DataFrame:
    """Profiles of the merchants in the events; skimmed ones tend to show more chargebacks, noisily."""
    pop = population
    n = len(pop.merchant_mcc)
    rate = rng.beta(1.2, 400.0, size=n) * np.where(np.isin(pop.merchant_mcc, cat.HIGH_RISK_MCCS), 4.0, 1.0)
    # Some honest merchants have bad months too, and not every skimmed merchant shows it yet.
    noisy = rng.random(n) < 0.02
    rate = np.where(noisy, rng.uniform(0.005, 0.04, size=n), rate)
    rate[compromised] = rng.uniform(0.004, 0.06, size=len(compromised))
    merchant = np.unique(events.merchant)
    return pl.DataFrame(
        {
            "merchant": merchant,
            "mcc": pop.merchant_mcc[merchant],
            "country": pop.merchant_country[merchant],
            "merchant_age_days": pop.merchant_age_days[merchant],
            "chargeback_rate_90d": np.round(np.clip(rate[merchant], 0.0, 1.0), 5),
        }
    ).select(
        merchant_id=_id("mer-", "merchant", 6),
        mcc=_label("mcc", cat.MCCS),
        country=_label("country", cat.COUNTRIES),
        merchant_age_days=pl.col("merchant_age_days"),
        chargeback_rate_90d=pl.col("chargeback_rate_90d"),
    )


def _devices(
    events: Batch, population: Population, fraudsters: FraudsterDevices, rng: np.random.Generator
) -> pl.DataFrame:
    """Profiles of the devices in the events that were seen before the start of the period."""
    pop = population
    device = np.unique(events.device[events.device != NONE])
    legit = device[device < pop.n_devices]
    # A device mostly carries its owner's cards; now and then a relative's card too.
    legit_cards = pop.customer_n_cards[pop.device_owner[legit]] + (rng.random(len(legit)) < 0.05)
    offset = device - fraudsters.first
    in_range = (offset >= 0) & (offset < len(fraudsters.profiled))
    fraud = offset[in_range]
    fraud = fraud[fraudsters.profiled[fraud]]
    return (
        pl.DataFrame(
            {
                "device": np.concatenate([legit, fraudsters.first + fraud]),
                "device_age_days": np.concatenate([pop.device_age_days[legit], fraudsters.age_days[fraud]]),
                "n_cards_30d": np.concatenate([legit_cards, fraudsters.n_cards_30d[fraud]]).astype(np.int64),
            }
        )
        .select(device_id=_device_id("device"), device_age_days="device_age_days", n_cards_30d="n_cards_30d")
        .sort("device_id")
    )
