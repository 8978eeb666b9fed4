"""The populations behind the traffic: cards, customers, merchants and devices, as integer-coded numpy arrays.

Everything here is drawn once per data set, before any event; events then refer to entities by index, and the
profile tables are cut from these arrays at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from loadtest.synthetic import catalog as cat
from loadtest.synthetic.config import SyntheticConfig

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]

DOMESTIC, FOREIGN, SANCTIONED = range(3)
# Private-looking address space for home connections and mobile carriers: 100.64.0.0/10 (carrier-grade NAT).
CGNAT_BASE = (100 << 24) | (64 << 16)
CGNAT_SIZE = 1 << 22
# Documentation ranges (RFC 5737), standing in for shared public addresses: cafés, VPNs, proxies.
SHARED_BASES = np.array([(192 << 24) | (2 << 8), (198 << 24) | (51 << 16) | (100 << 8), (203 << 24) | (113 << 8)])


def cdf(weights: F64) -> F64:
    """Cumulative distribution of non-negative ``weights``, ending exactly at 1."""
    out = np.cumsum(weights, dtype=np.float64)
    out /= out[-1]
    out[-1] = 1.0
    return out


def draw(cdf_: F64, rng: np.random.Generator, size: int) -> I64:
    """Indices drawn with the probabilities behind ``cdf_`` (cheaper than ``Generator.choice`` with ``p``)."""
    return np.searchsorted(cdf_, rng.random(size), side="right").astype(np.int64)


def cgnat_ips(rng: np.random.Generator, size: int) -> I64:
    """Random addresses in 100.64.0.0/10, as integers."""
    return CGNAT_BASE + rng.integers(0, CGNAT_SIZE, size=size, dtype=np.int64)


def shared_ips(rng: np.random.Generator, size: int) -> I64:
    """Random addresses in the three /24 documentation ranges, as integers (a small pool, so often shared)."""
    return SHARED_BASES[rng.integers(0, 3, size=size)] + rng.integers(1, 255, size=size, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Population:
    """All entities of one data set; every array is indexed by the entity's integer id."""

    card_owner: I64
    """Customer of each card."""
    card_new: Bool
    """Cards issued after the start of the period: no card profile."""
    card_age_days: I64
    """Card age at the start of the period."""
    card_cdf: F64
    """Cumulative distribution of legit activity over cards (heavy-tailed)."""
    card_weight: F64
    """Relative legit activity of each card."""
    customer_home: I64
    """Home country code of each customer."""
    customer_level: F64
    """Customer's amount level relative to a typical customer (log-normal around 1)."""
    customer_account_age_days: I64
    """Account age at the start of the period."""
    customer_n_cards: I64
    """How many cards the customer holds (1 or 2)."""
    customer_device_start: I64
    """Index of the customer's first known device; their devices are consecutive."""
    customer_n_devices: I64
    """How many known devices the customer uses (1 or 2)."""
    device_owner: I64
    """Customer of each known legit device."""
    device_age_days: I64
    """Age of each known (profiled) legit device at the start of the period."""
    device_ip: I64
    """Home address of each known legit device."""
    merchant_mcc: I64
    """MCC code of each merchant."""
    merchant_country: I64
    """Country code of each merchant."""
    merchant_pool: I64
    """``DOMESTIC``, ``FOREIGN`` or ``SANCTIONED``."""
    merchant_popularity: F64
    """Relative traffic of the merchant within its pool and MCC."""
    merchant_age_days: I64
    """Merchant age at the start of the period."""
    pool_cdf: tuple[F64, F64, F64]
    """Per pool, the cumulative distribution of legit traffic over all merchants (zero outside the pool)."""

    @property
    def n_cards(self) -> int:
        """Number of cards."""
        return len(self.card_owner)

    @property
    def n_devices(self) -> int:
        """Number of known legit devices; other device indices (fraudsters', new ones) start here."""
        return len(self.device_ip)


def populate(config: SyntheticConfig, rng: np.random.Generator) -> Population:
    """Draw the cards, customers, devices and merchants of one data set."""
    n_cards = config.card_count
    n_customers = max(1, min(n_cards, round(n_cards / config.cards_per_customer)))
    # Every customer gets one card, some get a second one; then card ids are shuffled so that ids say nothing.
    owner = np.concatenate([np.arange(n_customers), rng.choice(n_customers, n_cards - n_customers, replace=False)])
    owner = rng.permutation(owner).astype(np.int64)
    n_cards_of = np.bincount(owner, minlength=n_customers).astype(np.int64)

    home = np.where(
        rng.random(n_customers) < 0.98, cat.BR, cat.EXPAT_COUNTRIES[rng.integers(0, 4, n_customers)]
    ).astype(np.int64)
    level = rng.lognormal(0.0, 0.5, n_customers)
    account_age = np.minimum(30 + rng.exponential(1200, n_customers), 7300).astype(np.int64)
    card_new = rng.random(n_cards) < config.new_card_share
    card_age = np.where(card_new, 0, 1 + (rng.random(n_cards) * account_age[owner]).astype(np.int64))
    # Heavy-tailed activity makes per-card velocity meaningful; new cards have had less time to be used.
    card_weight = rng.lognormal(0.0, 1.1, n_cards) * np.where(card_new, 0.3, 1.0)

    n_devices_of = 1 + (rng.random(n_customers) < 0.4).astype(np.int64)
    device_start = np.concatenate([[0], np.cumsum(n_devices_of)[:-1]]).astype(np.int64)
    n_devices = int(n_devices_of.sum())
    device_age = 1 + np.minimum(rng.exponential(400, n_devices), 3000).astype(np.int64)

    merchant_pool, merchant_mcc, merchant_country = _merchants(config.merchant_count, rng)
    popularity = rng.lognormal(0.0, 1.0, config.merchant_count)
    return Population(
        card_owner=owner,
        card_new=card_new,
        card_age_days=card_age.astype(np.int64),
        card_cdf=cdf(card_weight),
        card_weight=card_weight,
        customer_home=home,
        customer_level=level,
        customer_account_age_days=account_age,
        customer_n_cards=n_cards_of,
        customer_device_start=device_start,
        customer_n_devices=n_devices_of,
        device_owner=np.repeat(np.arange(n_customers), n_devices_of).astype(np.int64),
        device_age_days=device_age,
        device_ip=cgnat_ips(rng, n_devices),
        merchant_mcc=merchant_mcc,
        merchant_country=merchant_country,
        merchant_pool=merchant_pool,
        merchant_popularity=popularity,
        merchant_age_days=(30 + rng.exponential(1500, config.merchant_count)).astype(np.int64),
        pool_cdf=(
            _pool_cdf(DOMESTIC, merchant_pool, merchant_mcc, popularity),
            _pool_cdf(FOREIGN, merchant_pool, merchant_mcc, popularity),
            _pool_cdf(SANCTIONED, merchant_pool, merchant_mcc, popularity),
        ),
    )


def _merchants(n: int, rng: np.random.Generator) -> tuple[I64, I64, I64]:
    """Pool, MCC and country of each merchant: mostly domestic, ~8 % abroad, two or more in sanctioned countries."""
    n_sanctioned = max(2, round(n * 0.002))
    n_foreign = max(len(cat.MCCS), round(n * 0.08))
    n_domestic = n - n_foreign - n_sanctioned
    pool = np.repeat(np.array([DOMESTIC, FOREIGN, SANCTIONED]), [n_domestic, n_foreign, n_sanctioned])
    mcc_cdf = cdf(cat.MCC_WEIGHT)
    # The first merchants of each open pool cover every MCC, so that no category's traffic has nowhere to go.
    everyone = np.arange(len(cat.MCCS))
    mcc = np.concatenate(
        [
            everyone,
            draw(mcc_cdf, rng, n_domestic - len(everyone)),
            everyone,
            draw(mcc_cdf, rng, n_foreign - len(everyone)),
            cat.SANCTIONED_MCCS[np.arange(n_sanctioned) % len(cat.SANCTIONED_MCCS)],
        ]
    )
    country = np.concatenate(
        [
            np.full(n_domestic, cat.BR),
            cat.FOREIGN_COUNTRIES[draw(cdf(cat.FOREIGN_WEIGHT), rng, n_foreign)],
            cat.SANCTIONED_COUNTRIES[np.arange(n_sanctioned) % len(cat.SANCTIONED_COUNTRIES)],
        ]
    )
    # Shuffle so that merchant ids say nothing about the pool.
    order = rng.permutation(n)
    return pool[order].astype(np.int64), mcc[order].astype(np.int64), country[order].astype(np.int64)


def _pool_cdf(which: int, pool: I64, mcc: I64, popularity: F64) -> F64:
    """Traffic over merchants of one pool such that each MCC gets its catalog share of the pool's events."""
    in_pool = pool == which
    weight = np.where(in_pool, popularity, 0.0)
    per_mcc = np.bincount(mcc, weights=weight, minlength=len(cat.MCCS))
    share = np.bincount(mcc[in_pool], minlength=len(cat.MCCS)) > 0
    mcc_weight = np.where(share, cat.MCC_WEIGHT, 0.0)
    return cdf(np.where(in_pool, weight / np.maximum(per_mcc[mcc], 1e-12) * mcc_weight[mcc], 0.0))
