"""The three fraud typologies, each with a learnable signal that legit traffic also shows now and then."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loadtest.synthetic import catalog as cat
from loadtest.synthetic.config import SyntheticConfig
from loadtest.synthetic.entities import DOMESTIC, F64, FOREIGN, I64, Population, cdf, cgnat_ips, draw, shared_ips
from loadtest.synthetic.events import DAY_US, HOUR_US, Batch, cents, daily_times, new_device_base, to_currency

SECOND_US = 1_000_000


@dataclass(frozen=True, slots=True)
class FraudsterDevices:
    """The devices that card testers share across cards; some were already seen before the period."""

    first: int
    """Device index of the first one; they are consecutive."""
    profiled: np.ndarray[tuple[int], np.dtype[np.bool_]]
    """Which of them have a device profile."""
    age_days: I64
    """Device age at the start of the period."""
    n_cards_30d: I64
    """Distinct cards seen on the device in the 30 days before the period (high: they test many cards)."""


def split(total: int, weights: tuple[float, ...]) -> list[int]:
    """``total`` split in proportion to ``weights`` by largest remainder, so the parts sum to ``total`` exactly."""
    share = np.asarray(weights, dtype=np.float64) / sum(weights)
    parts = np.floor(share * total).astype(np.int64)
    remainder = share * total - parts
    parts[np.argsort(-remainder, kind="stable")[: total - int(parts.sum())]] += 1
    return [int(part) for part in parts]


def _episodes(rng: np.random.Generator, total: int, low: int, high: int) -> I64:
    """Episode lengths in ``[low, high]`` summing to ``total``; a short remainder joins the previous episode."""
    lengths = rng.integers(low, high + 1, size=total // low + 1, dtype=np.int64)
    ends = np.cumsum(lengths)
    last = int(np.searchsorted(ends, total))
    lengths = lengths[: last + 1]
    lengths[-1] -= int(ends[last]) - total
    if len(lengths) > 1 and lengths[-1] < low:
        lengths[-2] += lengths[-1]
        lengths = lengths[:-1]
    return lengths


def _burst_times(rng: np.random.Generator, config: SyntheticConfig, lengths: I64, mean_gap_s: float) -> I64:
    """Event times of episodes that each start anywhere in the period and go on with exponential gaps."""
    n = int(lengths.sum())
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    episode = np.repeat(np.arange(len(lengths)), lengths)
    starts = rng.integers(0, config.days * DAY_US - HOUR_US, size=len(lengths), dtype=np.int64)
    gaps = SECOND_US + rng.exponential(mean_gap_s * SECOND_US, size=n).astype(np.int64)
    gaps[np.concatenate([[0], np.cumsum(lengths)[:-1]])] = 0
    within = np.cumsum(gaps)
    within -= np.repeat(within[np.cumsum(lengths) - lengths], lengths)
    # Clipping only bites on absurdly long episodes at the very end of the period.
    times: I64 = np.minimum(starts[episode] + within, config.days * DAY_US - 1)
    return times


def _merchant_set(population: Population, pools: tuple[int, ...], mccs: I64) -> tuple[I64, F64]:
    """Merchants of the given pools and MCCs, with the cumulative distribution of their popularity."""
    mask = np.isin(population.merchant_pool, pools) & np.isin(population.merchant_mcc, mccs)
    chosen = np.flatnonzero(mask).astype(np.int64)
    return chosen, cdf(population.merchant_popularity[chosen])


def card_testing(
    population: Population, config: SyntheticConfig, rng: np.random.Generator, n: int
) -> tuple[Batch, FraudsterDevices]:
    """Bursts of 5-30 tiny ecommerce payments on one card within minutes, at a few merchants, from shared devices."""
    lengths = _episodes(rng, n, 5, 30) if n else np.zeros(0, dtype=np.int64)
    n_bursts = len(lengths)
    burst = np.repeat(np.arange(n_bursts), lengths)
    # A handful of devices serve all the bursts, so a device (and its ip) is seen on many cards.
    n_devices = max(2, n_bursts // 4)
    first = new_device_base(population, config)[0]
    device_ip = np.where(rng.random(n_devices) < 0.6, shared_ips(rng, n_devices), cgnat_ips(rng, n_devices))
    burst_device = rng.integers(0, n_devices, size=n_bursts)
    devices = FraudsterDevices(
        first=first,
        profiled=rng.random(n_devices) < 0.5,
        age_days=rng.integers(1, 60, size=n_devices, dtype=np.int64),
        n_cards_30d=rng.integers(4, 41, size=n_devices, dtype=np.int64),
    )

    targets, target_cdf = _merchant_set(population, (DOMESTIC, FOREIGN), cat.CARD_TESTING_MCCS)
    # Each burst spreads over 2-5 merchants of its own.
    burst_merchants = targets[draw(target_cdf, rng, 5 * n_bursts)].reshape(n_bursts, 5)
    column = (rng.random(n) * rng.integers(2, 6, size=n_bursts)[burst]).astype(np.int64)
    merchant = burst_merchants[burst, column]
    proxy = rng.random(n) < 0.3  # some testers rotate addresses through proxies
    ip = np.where(proxy, shared_ips(rng, n), device_ip[burst_device[burst]])
    batch = Batch(
        at_us=_burst_times(rng, config, lengths, mean_gap_s=15.0),
        card=rng.integers(0, population.n_cards, size=n_bursts, dtype=np.int64)[burst],
        merchant=merchant,
        channel=np.full(n, cat.ECOMMERCE, dtype=np.int64),
        amount=cents(rng.uniform(0.5, 3.0, size=n)),
        device=first + burst_device[burst],
        ip=ip,
        typology=np.full(n, cat.CARD_TESTING, dtype=np.int64),
    )
    return batch, devices


def account_takeover(population: Population, config: SyntheticConfig, rng: np.random.Generator, n: int) -> Batch:
    """Episodes of 1-4 ecommerce payments from a brand-new device: abroad and/or several times the usual amount."""
    pop = population
    lengths = _episodes(rng, n, 1, 4) if n else np.zeros(0, dtype=np.int64)
    n_episodes = len(lengths)
    episode = np.repeat(np.arange(n_episodes), lengths)
    # Takeovers hit established customers, in proportion to how active they are.
    victim_cdf = cdf(np.where(pop.card_new, 0.0, pop.card_weight))
    card = draw(victim_cdf, rng, n_episodes)[episode]
    customer = pop.card_owner[card]

    variant = rng.random(n_episodes)[episode]
    abroad = variant < 0.75
    high = (variant < 0.5) | (variant >= 0.75)
    # "Abroad" means away from home: for the few non-Brazilian customers, Brazil is the unusual country.
    away = np.where(pop.customer_home[customer] == cat.BR, FOREIGN, DOMESTIC)
    pool = np.where(abroad, away, DOMESTIC)
    merchant = np.empty(n, dtype=np.int64)
    for which in (DOMESTIC, FOREIGN):
        mask = pool == which
        chosen, chosen_cdf = _merchant_set(pop, (which,), cat.TAKEOVER_MCCS)
        merchant[mask] = chosen[draw(chosen_cdf, rng, int(mask.sum()))]

    usual = pop.customer_level[customer] * cat.MEAN_AMOUNT_FACTOR
    factor = np.where(high, rng.lognormal(np.log(6.0), 0.4, size=n), rng.lognormal(np.log(1.5), 0.5, size=n))
    ip = np.where(rng.random(n_episodes) < 0.5, shared_ips(rng, n_episodes), cgnat_ips(rng, n_episodes))
    return Batch(
        at_us=_burst_times(rng, config, lengths, mean_gap_s=120.0),
        card=card,
        merchant=merchant,
        channel=np.full(n, cat.ECOMMERCE, dtype=np.int64),
        amount=cents(np.maximum(1.0, to_currency(usual * factor, merchant, pop))),
        device=new_device_base(pop, config)[1] + episode,
        ip=ip[episode],
        typology=np.full(n, cat.ACCOUNT_TAKEOVER, dtype=np.int64),
    )


def compromised_merchant(
    population: Population, config: SyntheticConfig, rng: np.random.Generator, n: int
) -> tuple[Batch, I64]:
    """Cloned cards used in person at a few skimmed merchants during a window of days; returns the merchants too."""
    pop = population
    candidates, candidate_cdf = _merchant_set(pop, (DOMESTIC,), cat.SKIMMING_MCCS)
    n_merchants = min(len(candidates), max(2, round(config.merchant_count * 0.002)))
    # Skimmers go where the traffic is: popular merchants, drawn without replacement.
    weights = np.diff(candidate_cdf, prepend=0.0)
    compromised = rng.choice(candidates, size=n_merchants, replace=False, p=weights / weights.sum()).astype(np.int64)
    first_day = rng.integers(0, max(1, config.days - 2), size=n_merchants, dtype=np.int64)
    n_days = np.minimum(rng.integers(3, 11, size=n_merchants, dtype=np.int64), config.days - first_day)

    which = np.repeat(np.arange(n_merchants), rng.multinomial(n, np.full(n_merchants, 1.0 / n_merchants)))
    day = first_day[which] + (rng.random(n) * n_days[which]).astype(np.int64)
    merchant = compromised[which]
    mcc = pop.merchant_mcc[merchant]
    amount_brl = cat.MCC_MEDIAN_BRL[mcc] * rng.lognormal(np.log(2.5), 0.6, size=n)
    batch = Batch(
        at_us=daily_times(rng, config, day),
        card=rng.integers(0, pop.n_cards, size=n, dtype=np.int64),
        merchant=merchant,
        channel=np.full(n, cat.POS, dtype=np.int64),
        amount=cents(np.maximum(1.0, amount_brl)),
        device=np.full(n, -1, dtype=np.int64),
        ip=np.full(n, -1, dtype=np.int64),
        typology=np.full(n, cat.COMPROMISED_MERCHANT, dtype=np.int64),
    )
    return batch, compromised
