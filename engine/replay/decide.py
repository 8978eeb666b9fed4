"""The Polars twin of the live decision flow: pre-policies, then thresholds on the model's scores, or the fallback.

Built from the same compiled tables the engine serves (`Policy.pre_policies`, `.thresholds`, `.fallbacks`): every
compiled rule carries a Polars expression that agrees with its row closure, so a `pl.when(...).then(...)` chain in
table order is the first-match-wins loop of `engine.policy`, and the decision equals the engine's row by row.
"""

from __future__ import annotations

import polars as pl

from engine.policy import CompiledRule, Policy

SCORES = ("score", "calibrated", "ecdf")
"""The model's outputs that thresholds may read, under these names."""


def _first(table: tuple[CompiledRule | tuple[str, str], ...], what: str) -> pl.Expr:
    """The `what` (`name` or `action`) of the first row of a table ending with a catch-all that matches."""
    chain: pl.Expr | None = None
    out: pl.Expr
    for row in table:
        if isinstance(row, tuple):
            value = pl.lit(row[0] if what == "name" else row[1], pl.String)
            out = value if chain is None else chain.otherwise(value)  # type: ignore[attr-defined]
            return out
        value = pl.lit(row.name if what == "name" else row.action, pl.String)
        chain = pl.when(row.predicate.expr).then(value) if chain is None else chain.when(row.predicate.expr).then(value)  # type: ignore[attr-defined]
    raise AssertionError("unreachable: tables end with a catch-all, checked at load")


def pre_policy(policy: Policy) -> tuple[pl.Expr, pl.Expr]:
    """(the first live pre-policy that matches, or null; the shadow rules that matched before it, as a list)."""
    live = [r for r in policy.pre_policies if not r.shadow]
    rule: pl.Expr = pl.lit(None, pl.String)
    for r in reversed(live):
        rule = pl.when(r.predicate.expr).then(pl.lit(r.name, pl.String)).otherwise(rule)
    hits: list[pl.Expr] = []
    before: pl.Expr = pl.lit(False)
    for r in policy.pre_policies:
        if r.shadow:
            # the live loop stops at the first acting rule: a shadow rule after it is never evaluated
            hits.append(pl.when(r.predicate.expr & ~before).then(pl.lit(r.name, pl.String)))
        else:
            before = before | r.predicate.expr
    shadow = pl.concat_list(hits).list.drop_nulls() if hits else pl.lit([], pl.List(pl.String))
    return rule, shadow


def decisions(df: pl.DataFrame, policy: Policy, scored: bool, prefix: str) -> pl.DataFrame:
    """`prefix`-ed action, stage, rule, score, calibrated, ecdf, shadow and degraded columns for every row of `df`.

    `df` holds the event columns and, when `scored`, the model's `score`, `calibrated` and `ecdf` (null where the
    pre-policies decide); unscored means no model, so survivors get the fallback (`model_unavailable`, as live).
    """
    rule, shadow = pre_policy(policy)
    actions = {r.name: r.action for r in policy.pre_policies}
    pre = pl.col("_pre")
    pre_action = pre.replace_strict(actions, default=None, return_dtype=pl.String)
    if scored:
        tail_action, tail_rule, tail_stage = (
            _first(policy.thresholds, "action"),
            _first(policy.thresholds, "name"),
            "model",
        )
    else:
        tail_action, tail_rule, tail_stage = (
            _first(policy.fallbacks, "action"),
            _first(policy.fallbacks, "name"),
            "fallback",
        )
    decided = pre.is_not_null()
    score_cols = [
        (pl.when(decided).then(None).otherwise(pl.col(c)) if scored else pl.lit(None))
        .cast(pl.Float64)
        .alias(prefix + c)
        for c in SCORES
    ]
    return df.with_columns(rule.alias("_pre")).select(
        pl.when(decided).then(pre_action).otherwise(tail_action).alias(f"{prefix}action"),
        pl.when(decided).then(pl.lit("pre_policy")).otherwise(pl.lit(tail_stage)).alias(f"{prefix}stage"),
        pl.when(decided).then(pre).otherwise(tail_rule).alias(f"{prefix}rule"),
        *score_cols,
        shadow.alias(f"{prefix}shadow"),
        (~decided & pl.lit(not scored)).alias(f"{prefix}degraded"),
    )
