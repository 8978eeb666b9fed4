"""Threshold tuning aid: from the candidate's scores on history, the ECDF cut-offs that meet a deny-rate target or a
review capacity, and the trade-off curve behind them.

Only events that reach the model move with a threshold; pre-policy denials and reviews are counted as fixed. The
suggestion is a plain `ecdf >= t` row per action: a table with extra conditions (`calibrated >= 0.5` ...) needs a
replay of its own to check.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

CURVE_POINTS = 200
"""Points kept on the plotted and exported curve."""


def curve(df: pl.DataFrame, prefix: str = "cand_") -> pl.DataFrame:
    """For each candidate cut-off t (every distinct ECDF, highest first): the events with `ecdf >= t` among those
    scored, the fraud among them and its amount (null columns without labels)."""
    scored = df.filter(pl.col(f"{prefix}stage") == "model")
    label = pl.col("is_fraud").fill_null(False) if "is_fraud" in df.columns else pl.lit(False)
    return (
        scored.select(
            pl.col(f"{prefix}ecdf").alias("t"),
            label.cast(pl.Int64).alias("_f"),
            (label.cast(pl.Float64) * pl.col("amount")).alias("_fa"),
        )
        .group_by("t")
        .agg(pl.len().alias("_n"), pl.col("_f").sum(), pl.col("_fa").sum())
        .sort("t", descending=True)
        .select(
            "t",
            pl.col("_n").cum_sum().alias("above"),
            pl.col("_f").cum_sum().alias("fraud_above"),
            pl.col("_fa").cum_sum().alias("fraud_amount_above"),
        )
    )


def _fixed(df: pl.DataFrame, action: str, prefix: str) -> int:
    return df.filter((pl.col(f"{prefix}stage") != "model") & (pl.col(f"{prefix}action") == action)).height


def suggest(
    df: pl.DataFrame,
    days: float,
    *,
    deny_rate: float | None = None,
    reviews_per_day: float | None = None,
    prefix: str = "cand_",
) -> dict[str, Any]:
    """The lowest ECDF cut-offs with deny rate (share of all events) <= `deny_rate` and reviews per day <=
    `reviews_per_day` (reviews between the two cut-offs), with their recall where labels exist, and the curve."""
    n = df.height
    c = curve(df, prefix)
    t = c["t"].to_numpy()
    above = c["above"].to_numpy()
    fraud_above = c["fraud_above"].to_numpy()
    total_fraud = int(df["is_fraud"].fill_null(False).sum()) if "is_fraud" in df.columns else 0
    pre_deny, pre_review = _fixed(df, "deny", prefix), _fixed(df, "review", prefix)
    out: dict[str, Any] = {"events": n, "days": days, "pre_policy_deny": pre_deny, "pre_policy_review": pre_review}
    deny_idx: int | None = None
    if deny_rate is not None and t.size:
        ok = np.nonzero((pre_deny + above) / n <= deny_rate)[0]
        deny_idx = int(ok[-1]) if ok.size else None
        out["deny"] = _point(t, above, fraud_above, deny_idx, total_fraud, pre_deny, "deny_rate", n)
    if reviews_per_day is not None and t.size:
        # reviews are the scored events between the review cut-off and the deny cut-off (if one was suggested)
        top = deny_idx if deny_idx is not None else -1
        base, base_fraud = (int(above[top]), int(fraud_above[top])) if top >= 0 else (0, 0)
        reviews = (pre_review + above - base) / days
        ok = np.nonzero((reviews <= reviews_per_day) & (np.arange(t.size) > top))[0]
        idx = int(ok[-1]) if ok.size else None
        out["review"] = _point(
            t, above - base, fraud_above - base_fraud, idx, total_fraud, pre_review, "reviews_per_day", days
        )
    if t.size:
        keep = np.unique(np.linspace(0, t.size - 1, min(CURVE_POINTS, t.size)).astype(int))
        out["curve"] = {
            "ecdf": t[keep].tolist(),
            "flag_rate": ((above[keep]) / n).tolist(),
            "per_day": (above[keep] / days).tolist(),
            "recall": (fraud_above[keep] / total_fraud).tolist() if total_fraud else None,
            "precision": (fraud_above[keep] / above[keep]).tolist() if total_fraud else None,
        }
    return out


def _point(
    t: Any, flagged: Any, caught: Any, idx: int | None, total_fraud: int, fixed: int, what: str, scale: float
) -> dict[str, Any]:
    """One suggested cut-off; `ecdf` None when even the strictest one misses the target (pre-policies exceed it)."""
    if idx is None:
        return {"ecdf": None, "note": "not reachable: the pre-policies alone exceed the target"}
    return {
        "ecdf": float(t[idx]),
        "rule": f"ecdf >= {float(t[idx]):.6g}",
        what: (fixed + int(flagged[idx])) / scale,
        "model_flagged": int(flagged[idx]),
        "fraud_caught_by_model": int(caught[idx]),
        "recall": int(caught[idx]) / total_fraud if total_fraud else None,
    }
