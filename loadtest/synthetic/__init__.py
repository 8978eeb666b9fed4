"""Seeded synthetic ``card_payment`` traffic with fraud labels, and the profile tables it refers to.

>>> data = generate(SyntheticConfig(n_events=200_000, seed=7))  # doctest: +SKIP
>>> data.write(Path("var/synthetic"))  # doctest: +SKIP

About two thirds of the events are everyday card-present payments in Brazil under 150 BRL; the rest are
card-not-present, foreign, cash or larger. About ``fraud_rate`` of the events are fraud of three typologies (card
testing, account takeover, compromised merchant). Profiles are a snapshot as of the start of the period and leave
out, on purpose, cards issued and devices first seen after it.
"""

from loadtest.synthetic.config import FraudMix, SyntheticConfig
from loadtest.synthetic.generate import generate
from loadtest.synthetic.tables import (
    CARDS_SCHEMA,
    CUSTOMERS_SCHEMA,
    DEVICES_SCHEMA,
    EVENTS_SCHEMA,
    MERCHANTS_SCHEMA,
    SyntheticData,
)

__all__ = [
    "CARDS_SCHEMA",
    "CUSTOMERS_SCHEMA",
    "DEVICES_SCHEMA",
    "EVENTS_SCHEMA",
    "MERCHANTS_SCHEMA",
    "FraudMix",
    "SyntheticConfig",
    "SyntheticData",
    "generate",
]
