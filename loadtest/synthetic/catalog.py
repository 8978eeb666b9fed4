"""Fixed tables behind the synthetic traffic: merchant categories, countries, currencies and the daily cycle.

Kept apart from the sampling code so that tuning the traffic mix (for instance the share that the demo pre-policy
``channel == "pos" and country == "BR" and amount < 150`` approves) is an edit of data, not of logic.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

CHANNELS: Final = ("pos", "ecommerce", "moto", "atm")
"""Channel codes, in the order of the integer codes used while generating."""
POS, ECOMMERCE, MOTO, ATM = range(4)

TYPOLOGIES: Final = ("legit", "card_testing", "account_takeover", "compromised_merchant")
"""Typology labels, in the order of the integer codes used while generating."""
LEGIT, CARD_TESTING, ACCOUNT_TAKEOVER, COMPROMISED_MERCHANT = range(4)

# One row per merchant category: (mcc, share of legit events, median amount in BRL for a typical customer,
# log-normal spread, channel probabilities pos / ecommerce / moto / atm). The everyday card-present categories carry
# about three quarters of the events with medians well under 150 BRL: that is what makes the demo pre-policy
# approve roughly two thirds of the traffic.
_MCC_ROWS: Final = (
    ("5411", 0.30, 48.0, 0.75, (0.97, 0.03, 0.00, 0.00)),  # grocery
    ("5812", 0.15, 45.0, 0.70, (0.95, 0.05, 0.00, 0.00)),  # restaurants
    ("5814", 0.14, 28.0, 0.60, (0.85, 0.15, 0.00, 0.00)),  # fast food (delivery apps are ecommerce)
    ("5541", 0.10, 80.0, 0.45, (1.00, 0.00, 0.00, 0.00)),  # fuel
    ("5912", 0.07, 40.0, 0.70, (0.92, 0.08, 0.00, 0.00)),  # drug stores
    ("4121", 0.04, 24.0, 0.55, (0.10, 0.90, 0.00, 0.00)),  # taxi / ride hailing (in-app)
    ("5311", 0.04, 120.0, 0.80, (0.70, 0.30, 0.00, 0.00)),  # department stores
    ("5691", 0.035, 160.0, 0.70, (0.60, 0.40, 0.00, 0.00)),  # clothing
    ("5732", 0.025, 650.0, 0.90, (0.35, 0.60, 0.05, 0.00)),  # electronics
    ("5999", 0.04, 70.0, 0.90, (0.60, 0.35, 0.05, 0.00)),  # misc retail
    ("4814", 0.025, 45.0, 0.50, (0.10, 0.75, 0.15, 0.00)),  # telecom top-ups and bills
    ("4829", 0.015, 300.0, 1.00, (0.00, 0.90, 0.10, 0.00)),  # money transfer
    ("7995", 0.01, 60.0, 1.00, (0.00, 1.00, 0.00, 0.00)),  # gambling
    ("5967", 0.01, 80.0, 0.80, (0.00, 0.60, 0.40, 0.00)),  # direct marketing
    ("6011", 0.03, 200.0, 0.60, (0.00, 0.00, 0.00, 1.00)),  # ATM cash
)

MCCS: Final = tuple(row[0] for row in _MCC_ROWS)
"""Merchant category codes, in the order of the integer codes used while generating."""
MCC_WEIGHT: Final[NDArray[np.float64]] = np.array([row[1] for row in _MCC_ROWS]) / sum(row[1] for row in _MCC_ROWS)
MCC_MEDIAN_BRL: Final[NDArray[np.float64]] = np.array([row[2] for row in _MCC_ROWS])
MCC_SIGMA: Final[NDArray[np.float64]] = np.array([row[3] for row in _MCC_ROWS])
MCC_CHANNEL_CDF: Final[NDArray[np.float64]] = np.cumsum(np.array([row[4] for row in _MCC_ROWS]), axis=1)
MCC_CHANNEL_CDF[:, -1] = 1.0  # rounding must never send a draw past the last channel

# Average legit amount relative to a customer's level, so that a profile's avg_amount_90d agrees with the events.
MEAN_AMOUNT_FACTOR: Final = float(np.sum(MCC_WEIGHT * MCC_MEDIAN_BRL * np.exp(MCC_SIGMA**2 / 2)))


def mcc_codes(*codes: str) -> NDArray[np.int64]:
    """Integer codes of the given MCC strings (fails loudly on a code that is not in the catalog)."""
    return np.array([MCCS.index(code) for code in codes], dtype=np.int64)


# Card-not-present categories where fraudsters test stolen numbers and cash out taken-over accounts.
CARD_TESTING_MCCS: Final = mcc_codes("5999", "5967", "4814", "5814", "7995")
TAKEOVER_MCCS: Final = mcc_codes("5732", "4829", "7995", "5311", "5967", "5999")
# Card-present categories where skimmers get installed (fuel pumps first).
SKIMMING_MCCS: Final = mcc_codes("5541", "5411", "5812", "5311")
SANCTIONED_MCCS: Final = mcc_codes("4829", "5967", "7995")
HIGH_RISK_MCCS: Final = mcc_codes("4829", "7995", "5967")

COUNTRIES: Final = ("BR", "US", "PT", "AR", "ES", "CN", "UY", "CL", "FR", "KP", "IR")
"""Country codes, in the order of the integer codes used while generating; ``BR`` is home."""
BR: Final = 0
FOREIGN_COUNTRIES: Final[NDArray[np.int64]] = np.arange(1, 9)
FOREIGN_WEIGHT: Final[NDArray[np.float64]] = np.array([0.30, 0.15, 0.15, 0.10, 0.10, 0.08, 0.07, 0.05])
SANCTIONED_COUNTRIES: Final[NDArray[np.int64]] = np.array([9, 10])
# Where the few non-Brazilian cardholders come from (residents in Brazil with a foreign card).
EXPAT_COUNTRIES: Final[NDArray[np.int64]] = np.array([2, 3, 1, 6])

CURRENCIES: Final = ("BRL", "USD", "EUR")
"""Currency codes, in the order of the integer codes used while generating."""
COUNTRY_CURRENCY: Final[NDArray[np.int64]] = np.array([0, 1, 2, 1, 2, 1, 1, 1, 2, 1, 1])
BRL_PER_UNIT: Final[NDArray[np.float64]] = np.array([1.0, 5.4, 5.9])

# Relative event rate per local hour (00-23) of the cardholders: a quiet night, a lunch peak, an evening peak.
_HOURLY: Final = np.array(
    [
        *(0.6, 0.35, 0.25, 0.2, 0.2, 0.35, 0.8, 1.6, 2.6, 3.4, 4.0, 4.6),
        *(5.4, 5.2, 4.6, 4.3, 4.4, 4.9, 5.6, 6.0, 5.6, 4.6, 3.2, 1.6),
    ]
)
HOUR_CDF: Final[NDArray[np.float64]] = np.cumsum(_HOURLY) / _HOURLY.sum()
