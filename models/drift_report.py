"""The drift report: live scores per day and model version, from the decision log, against each version's training
ECDF (population stability index, the same bins as the live `fraudgate_score_psi` gauge; `models/drift.py`)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import polars as pl

from models.drift import score_psi
from models.report import _figure, _png
from models.schema import Base

WATCH, MOVED = 0.1, 0.25
"""PSI thresholds, the conventional reading: below 0.1 stable, up to 0.25 worth a look, above it moved."""


class DriftRow(Base, frozen=True):
    """One day of one model version's live scores."""

    day: str
    """Decision date (UTC), YYYY-MM-DD."""
    model_version: str
    """The champion version that scored them."""
    scored: int
    """Decisions of that day the model scored."""
    psi: float
    """PSI of their raw scores against the version's training ECDF (NaN when the version is not in the registry)."""
    reading: str
    """`stable`, `worth a look`, `moved`, or `unknown version`."""


def reading(psi: float) -> str:
    """The conventional reading of a PSI value."""
    if psi != psi:
        return "unknown version"
    return "stable" if psi < WATCH else "worth a look" if psi <= MOVED else "moved"


def drift_rows(frame: pl.DataFrame, quantiles_of: Callable[[str], Sequence[float] | None]) -> list[DriftRow]:
    """PSI per (day, model version) of the decision log's scored decisions (`decided_at`, `model_version`,
    `score` columns, as `engine.etl.read_output` gives them); `quantiles_of(version)` is the version's ECDF
    quantiles, None when it is unknown."""
    scored = frame.filter(pl.col("score").is_not_null() & pl.col("model_version").is_not_null())
    groups = (
        scored.with_columns(pl.col("decided_at").dt.date().cast(pl.String).alias("day"))
        .group_by("day", "model_version")
        .agg(pl.col("score"))
        .sort("day", "model_version")
    )
    rows: list[DriftRow] = []
    for day, version, scores in groups.iter_rows():
        quantiles = quantiles_of(version)
        psi = score_psi(quantiles, scores) if quantiles is not None else float("nan")
        rows.append(DriftRow(day=day, model_version=version, scored=len(scores), psi=psi, reading=reading(psi)))
    return rows


def drift_text(rows: Sequence[DriftRow]) -> str:
    """The rows as an aligned terminal table."""
    lines = [f"{'day':<10}  {'model version':<32}  {'scored':>8}  {'PSI':>7}  reading"]
    lines += [f"{r.day:<10}  {r.model_version:<32}  {r.scored:>8}  {r.psi:>7.4f}  {r.reading}" for r in rows]
    return "\n".join(lines)


def drift_html(rows: Sequence[DriftRow], *, title: str = "Score drift (PSI) by day") -> str:
    """A self-contained HTML page: PSI by day per model version, with the two thresholds, and the table."""
    fig, ax = _figure(title, "day", "PSI of live scores vs training")
    for version in dict.fromkeys(r.model_version for r in rows):
        mine = [r for r in rows if r.model_version == version and r.psi == r.psi]
        ax.plot([r.day for r in mine], [r.psi for r in mine], marker="o", label=version)
    ax.axhline(WATCH, color="orange", linestyle="--", label=f"worth a look ({WATCH})")
    ax.axhline(MOVED, color="red", linestyle="--", label=f"moved ({MOVED})")
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend(fontsize="small")
    body = "".join(
        f"<tr><td>{r.day}</td><td>{html.escape(r.model_version)}</td><td>{r.scored}</td><td>{r.psi:.4f}</td>"
        f"<td>{r.reading}</td></tr>"
        for r in rows
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><img alt='psi' src='data:image/png;base64,{_png(fig)}'>"
        "<table><tr><th>day</th><th>model version</th><th>scored</th><th>PSI</th><th>reading</th></tr>"
        f"{body}</table></body></html>\n"
    )
