"""Card-level evaluation protocol of the Fraud Detection Handbook: known-compromised cards and card precision@k.

Both work on plain columns (a day number, a card id, the 0/1 label, a score) so that any card data can use them.
They follow the Handbook's ``get_train_test_set`` and ``card_precision_top_k`` (Chapter 3.4 and its shared
functions): a card is *known compromised* on a test day once one of its frauds happened on or before that day minus
the delay minus one (the training week's frauds included); its transactions are dropped from that day's test set.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def remove_known_compromised(
    df: pl.DataFrame,
    *,
    day: str,
    card: str,
    label: str,
    train_days: tuple[int, int],
    test_days: tuple[int, int],
    delay_days: int,
) -> pl.DataFrame:
    """The test days' rows of ``df`` without the cards already known compromised on each test day.

    ``train_days`` and ``test_days`` are inclusive ``(first, last)`` day numbers; ``df`` must hold every row from
    the first training day to the last test day (the frauds of the delay period count as they become known). On test
    day ``d`` a card is known compromised when it has a fraud on a day in ``[train_first, d - delay_days - 1]``.
    """
    first_train, _ = train_days
    first_test, last_test = test_days
    frauds = (
        df.filter(pl.col(label).cast(pl.Int64) == 1)
        .group_by(card)
        .agg(pl.col(day).filter(pl.col(day) >= first_train).min().alias("_first_fraud_day"))
        .filter(pl.col("_first_fraud_day").is_not_null())
    )
    test = df.filter(pl.col(day).is_between(first_test, last_test))
    known = pl.col("_first_fraud_day") <= pl.col(day) - delay_days - 1
    return (
        test.join(frauds, on=card, how="left", maintain_order="left")
        .filter(~known.fill_null(False))
        .drop("_first_fraud_day")
    )


def card_precision_at_k(df: pl.DataFrame, *, day: str, card: str, label: str, score: str, k: int = 100) -> float:
    """Mean over days of the share of fraudulent cards among the ``k`` cards with the highest score that day.

    Per day each card counts once, with its highest score and its highest label; cards found fraudulent in the top
    ``k`` of an earlier day are left out of the later days (the Handbook's ``remove_detected_compromised_cards``).
    The share is over ``k`` even when a day has fewer cards. Ties in the card scores are broken by card id.
    """
    if df.is_empty():
        msg = "card precision needs at least one row"
        raise ValueError(msg)
    detected: set[object] = set()
    per_day: list[float] = []
    for d in df.get_column(day).unique().sort().to_list():
        cards = (
            df.filter((pl.col(day) == d) & ~pl.col(card).is_in(list(detected)))
            .group_by(card)
            .agg(pl.col(score).max(), pl.col(label).cast(pl.Int64).max())
            .sort([score, card], descending=[True, False])
            .head(k)
        )
        found = cards.filter(pl.col(label) == 1).get_column(card).to_list()
        per_day.append(len(found) / k)
        detected.update(found)
    return float(np.mean(per_day))
