"""The Handbook baseline features plus what the simulator's fraud patterns call for (the external benchmark's set).

`features.handbook` mirrors the Handbook's baseline transformation. This set keeps all of it and adds, still only
from engine specs (velocity windows, delayed label shares, `rules` expressions):

- amount ratios: the amount against the card's average over 1, 7, 30 and 90 days, and the card's recent average
  against its long one (leaked card credentials spend about five times the card's usual amount);
- delayed terminal risk over more windows, among them windows that end *before* the last 21 known days
  (`terminal_risk_old_7d` reads days 28..34 back): a compromised terminal stays compromised for a bounded span, so
  "fraud known recently but not earlier" tells a terminal still compromised from one whose compromise is over;
- the card's transaction count over 90 days, the hour and the day of the week.

Every delayed feature still reads labels only once they are known (the 7-day label delay is in the labels frame,
`features.labels.with_label_delay`), so nothing here sees a label earlier than the Handbook's protocol allows.
"""

from __future__ import annotations

from features.handbook import DELAY_DAYS, HANDBOOK, _days
from features.specs import DelayedRisk, DerivedSpec, FeatureSet, VelocitySpec

CUSTOMER_DAYS = (1, 7, 30, 90)
"""Card windows (count and amount sum), in days."""
TERMINAL_DAYS = (1, 7, 30)
"""Terminal count windows, in days."""
RISK_WINDOWS = ((DELAY_DAYS, 1), (DELAY_DAYS, 7), (DELAY_DAYS, 14), (DELAY_DAYS, 21), (DELAY_DAYS, 30))
"""(delay_days, days) of the delayed terminal risk shares that end at the last known day."""
OLD_RISK_WINDOWS = ((DELAY_DAYS + 21, 7), (DELAY_DAYS + 14, 7))
"""(delay_days, days) of the delayed terminal risk shares that end before the last known weeks."""


def _risk(delay: int, days: int) -> DelayedRisk:
    name = f"terminal_risk_{days}d" if delay == DELAY_DAYS else f"terminal_risk_{days}d_lag{delay}"
    return DelayedRisk(feature=name, delay_days=delay, days=days)


HANDBOOK_PLUS = FeatureSet(
    name="handbook_plus",
    version="1",
    event_fields=HANDBOOK.event_fields,  # the same mapped handbook columns
    profiles=(),
    velocity=(
        VelocitySpec(
            entity="customer", key="card_id", windows=tuple(_days("customer", n, True) for n in CUSTOMER_DAYS)
        ),
        VelocitySpec(
            entity="terminal",
            key="merchant_id",
            windows=tuple(_days("terminal", n, False) for n in TERMINAL_DAYS),
            delayed=tuple(_risk(d, n) for d, n in (*RISK_WINDOWS, *OLD_RISK_WINDOWS)),
        ),
    ),
    derived=(
        *(
            DerivedSpec(feature=f"customer_avg_{n}d", expr=f"customer_sum_{n}d / customer_cnt_{n}d")
            for n in CUSTOMER_DAYS
        ),
        *(DerivedSpec(feature=f"amount_ratio_{n}d", expr=f"amount / customer_avg_{n}d") for n in CUSTOMER_DAYS),
        DerivedSpec(feature="customer_avg_ratio_1d_30d", expr="customer_avg_1d / customer_avg_30d"),
        DerivedSpec(feature="customer_avg_ratio_7d_90d", expr="customer_avg_7d / customer_avg_90d"),
        DerivedSpec(feature="hour", expr="hour_of(occurred_at)"),
        DerivedSpec(feature="weekday", expr="day_of_week(occurred_at)"),
    ),
)
"""The Handbook's baseline features and the additions above, as engine specs."""
