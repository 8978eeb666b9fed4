"""The drift report from decision-log rows: PSI per day and version, its reading, the HTML page."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import polars as pl

from models.drift_report import drift_html, drift_rows, drift_text, reading

QUANTILES = [float(q) for q in np.linspace(0.0, 1.0, 101)]  # a uniform reference


def _log(day: int, version: str, scores: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "decided_at": [datetime(2026, 11, day, 12, tzinfo=UTC)] * len(scores),
            "model_version": [version] * len(scores),
            "score": scores.tolist(),
        }
    )


def test_psi_per_day_and_version_reads_stable_and_moved() -> None:
    rng = np.random.default_rng(0)
    frame = pl.concat(
        [
            _log(20, "v1", rng.uniform(0, 1, 5000)),  # the reference itself
            _log(21, "v1", rng.beta(8, 2, 5000)),  # scores piled up at the top
            _log(21, "gone", rng.uniform(0, 1, 50)),  # a version no longer in the registry
            pl.DataFrame({"decided_at": [datetime(2026, 11, 21, tzinfo=UTC)], "model_version": [None],
                          "score": [None]}, schema={"decided_at": pl.Datetime("us", "UTC"), "model_version": pl.String,
                                                   "score": pl.Float64}),  # a pre-policy decision: not scored
        ],
        how="vertical_relaxed",
    )  # fmt: skip
    rows = drift_rows(frame, lambda v: QUANTILES if v == "v1" else None)
    assert [(r.day, r.model_version, r.scored, r.reading) for r in rows] == [
        ("2026-11-20", "v1", 5000, "stable"),
        ("2026-11-21", "gone", 50, "unknown version"),
        ("2026-11-21", "v1", 5000, "moved"),
    ]
    assert rows[0].psi < 0.01 and rows[2].psi > 0.25 and math.isnan(rows[1].psi)
    assert "2026-11-21  v1" in drift_text(rows)
    page = drift_html(rows)
    assert "<img" in page and "unknown version" in page


def test_reading_thresholds() -> None:
    assert [reading(x) for x in (0.05, 0.1, 0.25, 0.3, math.nan)] == [
        "stable", "worth a look", "worth a look", "moved", "unknown version"
    ]  # fmt: skip
