"""Champion against challenger, from decision-log records: agreement, action confusion, correlations, HTML.

A record is a decision-log dict: ``record["decision"]`` holds the champion's ``score``, ``calibrated``, ``ecdf`` and
``action``; ``record["challenger"]`` holds the same keys for the shadow model when one scored the event. Records
without a challenger, or where either side did not score (pre-policy or fallback decisions), are counted as skipped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import numpy as np
import polars as pl

from models.report import _figure, _png
from models.schema import Base

ACTIONS = ("approve", "review", "deny")
"""Known actions, mildest first; any other action string is listed after them."""


class Comparison(Base, frozen=True):
    """How a challenger's decisions compare with the champion's on the same events."""

    compared: int
    """Records where both models scored."""
    skipped: int
    """Records without a challenger, or where either side has no score."""
    agreement: float
    """Share of compared records with the same action (NaN when none)."""
    confusion: dict[str, dict[str, int]]
    """Champion action -> challenger action -> records."""
    score_pearson: float
    """Pearson correlation of the raw scores (NaN when undefined)."""
    score_spearman: float
    """Spearman rank correlation of the raw scores, ties averaged (NaN when undefined)."""
    calibrated_mean_abs_diff: float
    """Mean absolute difference of the calibrated probabilities."""
    champion_action_rates: dict[str, float]
    """Share of each action for the champion."""
    challenger_action_rates: dict[str, float]
    """Share of each action for the challenger."""


def _side(d: Any) -> tuple[float, float, float, str] | None:
    if not isinstance(d, Mapping):
        return None
    score, calibrated, ecdf, action = d.get("score"), d.get("calibrated"), d.get("ecdf"), d.get("action")
    if score is None or calibrated is None or ecdf is None or action is None:
        return None
    return float(score), float(calibrated), float(ecdf), str(action)


def pairs(records: Iterable[Mapping[str, Any]]) -> tuple[pl.DataFrame, int]:
    """The scored (champion, challenger) pairs as a frame (``a_*`` champion, ``b_*`` challenger) and the skips."""
    rows: list[tuple[Any, ...]] = []
    skipped = 0
    for record in records:
        a, b = _side(record.get("decision")), _side(record.get("challenger"))
        if a is None or b is None:
            skipped += 1
            continue
        rows.append((*a, *b))
    cols = ["score", "calibrated", "ecdf", "action"]
    schema = {f"{p}_{c}": (pl.String if c == "action" else pl.Float64) for p in "ab" for c in cols}
    return pl.DataFrame(rows, schema=schema, orient="row"), skipped


def _corr(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> float:
    if x.size < 2 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def _rates(actions: pl.Series, order: list[str]) -> dict[str, float]:
    n = actions.len()
    counts = dict(actions.value_counts().iter_rows())
    return {a: (counts.get(a, 0) / n if n else 0.0) for a in order}


def _order(df: pl.DataFrame) -> list[str]:
    seen = set(df["a_action"].to_list()) | set(df["b_action"].to_list())
    return [a for a in ACTIONS if a in seen] + sorted(seen - set(ACTIONS))


def compare(records: Iterable[Mapping[str, Any]]) -> Comparison:
    """Compare the champion and the challenger over decision-log records."""
    df, skipped = pairs(records)
    order = _order(df)
    confusion = {a: dict.fromkeys(order, 0) for a in order}
    for a, b, n in df.group_by("a_action", "b_action").len().iter_rows():
        confusion[a][b] = int(n)
    a_score, b_score = df["a_score"].to_numpy(), df["b_score"].to_numpy()
    ranks = df.select(pl.col("a_score", "b_score").rank("average"))
    n = df.height
    return Comparison(
        compared=n,
        skipped=skipped,
        agreement=float((df["a_action"] == df["b_action"]).mean()) if n else float("nan"),  # type: ignore[arg-type]
        confusion=confusion,
        score_pearson=_corr(a_score, b_score),
        score_spearman=_corr(ranks["a_score"].to_numpy(), ranks["b_score"].to_numpy()),
        calibrated_mean_abs_diff=float((df["a_calibrated"] - df["b_calibrated"]).abs().mean()) if n else float("nan"),  # type: ignore[arg-type]
        champion_action_rates=_rates(df["a_action"], order),
        challenger_action_rates=_rates(df["b_action"], order),
    )


def _plots(df: pl.DataFrame) -> list[tuple[str, str]]:
    fig, ax = _figure("Raw scores, one dot per event", "champion score", "challenger score")
    ax.scatter(df["a_score"].to_numpy(), df["b_score"].to_numpy(), s=4, alpha=0.4)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
    out = [("scores", _png(fig))]
    fig, ax = _figure("ECDF of the score on each model's reference", "ecdf", "events")
    bins = np.linspace(0, 1, 41)
    ax.hist(df["a_ecdf"].to_numpy(), bins=bins, alpha=0.5, label="champion")
    ax.hist(df["b_ecdf"].to_numpy(), bins=bins, alpha=0.5, label="challenger")
    ax.legend()
    out.append(("ecdf", _png(fig)))
    return out


def compare_html(records: Iterable[Mapping[str, Any]], *, title: str = "Champion vs challenger") -> str:
    """A self-contained HTML page: the :class:`Comparison` figures, the action confusion table and two plots."""
    records = list(records)
    result = compare(records)
    df, _ = pairs(records)
    order = list(result.confusion)
    head = "".join(f"<th>{html.escape(b)}</th>" for b in order)
    body = "".join(
        f"<tr><th>{html.escape(a)}</th>" + "".join(f"<td>{result.confusion[a][b]}</td>" for b in order) + "</tr>"
        for a in order
    )
    summary = msgspec.to_builtins(result)
    summary.pop("confusion")
    items = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in summary.items())
    plots = (
        "".join(f'<img alt="{name}" src="data:image/png;base64,{png}">' for name, png in _plots(df))
        if df.height
        else ""
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><table>{items}</table>"
        f"<h2>Actions (rows: champion, columns: challenger)</h2><table><tr><th></th>{head}</tr>{body}</table>"
        f"<h2>Plots</h2>{plots}</body></html>\n"
    )
