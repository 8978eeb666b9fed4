"""Events as integer-coded numpy columns, and the legit traffic.

Events stay integer-coded (indices into the populations and the catalog) until the very end, where one Polars
pass turns them into strings: that keeps a million events to a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from loadtest.synthetic import catalog as cat
from loadtest.synthetic.config import SyntheticConfig
from loadtest.synthetic.entities import (
    DOMESTIC,
    F64,
    FOREIGN,
    I64,
    SANCTIONED,
    Population,
    cgnat_ips,
    draw,
    shared_ips,
)

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
NONE = -1
"""Device or ip code of a card-present event."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Events as parallel integer-coded columns; times are microseconds since the start of the period."""

    at_us: I64
    card: I64
    merchant: I64
    channel: I64
    amount: F64
    device: I64
    """Device index, or ``NONE``."""
    ip: I64
    """IPv4 address as an integer, or ``NONE``."""
    typology: I64

    @classmethod
    def concat(cls, batches: list[Batch]) -> Batch:
        """One batch with the events of all ``batches``, in order."""
        return cls(**{f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(cls)})

    def take(self, order: I64) -> Batch:
        """The events at positions ``order``."""
        return Batch(**{f.name: getattr(self, f.name)[order] for f in fields(self)})


def daily_times(rng: np.random.Generator, config: SyntheticConfig, day: I64) -> I64:
    """Times on the given period days, following the cardholders' local daily cycle, as offsets in microseconds.

    Local times are shifted to UTC and wrapped around the period, so that every event stays inside it.
    """
    hour = draw(cat.HOUR_CDF, rng, len(day))
    local = day * DAY_US + hour * HOUR_US + rng.integers(0, HOUR_US, size=len(day), dtype=np.int64)
    return (local - config.utc_offset_hours * HOUR_US) % (config.days * DAY_US)


def cents(amount: F64) -> F64:
    """Amounts rounded to two decimals (what ``np.round(amount, 2)`` computes, with a type mypy can follow)."""
    rounded: F64 = np.rint(amount * 100.0) / 100.0
    return rounded


def to_currency(amount_brl: F64, merchant: I64, population: Population) -> F64:
    """Amounts converted from BRL into the currency of each merchant's country."""
    currency = cat.COUNTRY_CURRENCY[population.merchant_country[merchant]]
    return amount_brl / cat.BRL_PER_UNIT[currency]


def new_device_base(population: Population, config: SyntheticConfig) -> tuple[int, int, int]:
    """First device index of fraudsters' devices, of devices new in takeovers, and of devices new in legit events.

    The ranges cannot overlap: each holds at most ``n_events`` devices.
    """
    known = population.n_devices
    return known, known + config.n_events, known + 2 * config.n_events


def legit_events(
    population: Population, config: SyntheticConfig, rng: np.random.Generator, size: int, first: int
) -> Batch:
    """``size`` legit events; ``first`` is the index of the first one among all legit events (for new device ids)."""
    pop = population
    card = draw(pop.card_cdf, rng, size)
    customer = pop.card_owner[card]

    u = rng.random(size)
    pool = np.full(size, DOMESTIC)
    pool[u < config.sanctioned_share + config.foreign_share] = FOREIGN
    pool[u < config.sanctioned_share] = SANCTIONED
    merchant = np.empty(size, dtype=np.int64)
    for which in (DOMESTIC, FOREIGN, SANCTIONED):
        mask = pool == which
        merchant[mask] = draw(pop.pool_cdf[which], rng, int(mask.sum()))
    mcc = pop.merchant_mcc[merchant]
    channel = (rng.random(size)[:, None] > cat.MCC_CHANNEL_CDF[mcc]).sum(axis=1).astype(np.int64)

    amount_brl = (
        cat.MCC_MEDIAN_BRL[mcc] * pop.customer_level[customer] * np.exp(cat.MCC_SIGMA[mcc] * rng.normal(size=size))
    )
    amount = to_currency(amount_brl, merchant, pop)
    # Cash machines dispense notes: multiples of 10, at least 20.
    amount = np.where(channel == cat.ATM, np.maximum(20.0, np.round(amount / 10) * 10), np.maximum(1.0, amount))

    not_present = (channel == cat.ECOMMERCE) | (channel == cat.MOTO)
    second = (pop.customer_n_devices[customer] == 2) & (rng.random(size) < 0.35)
    known = pop.customer_device_start[customer] + second
    is_new = rng.random(size) < config.new_device_share
    new = new_device_base(pop, config)[2] + first + np.arange(size, dtype=np.int64)
    device = np.where(not_present, np.where(is_new, new, known), NONE)
    # Mostly the device's home connection; else a mobile carrier or a shared public address (cafés, VPNs).
    r = rng.random(size)
    home_ip = np.where(is_new, cgnat_ips(rng, size), pop.device_ip[known])
    ip = np.where(r < 0.75, home_ip, np.where(r < 0.95, cgnat_ips(rng, size), shared_ips(rng, size)))
    return Batch(
        at_us=daily_times(rng, config, rng.integers(0, config.days, size=size, dtype=np.int64)),
        card=card,
        merchant=merchant,
        channel=channel,
        amount=cents(amount),
        device=device,
        ip=np.where(not_present, ip, NONE),
        typology=np.full(size, cat.LEGIT, dtype=np.int64),
    )
