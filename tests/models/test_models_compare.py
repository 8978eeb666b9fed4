"""Champion/challenger comparison from decision-log records."""

from __future__ import annotations

import math
from typing import Any

import pytest

from models.compare import compare, compare_html


def _rec(a: tuple[float, str] | None, b: tuple[float, str] | None) -> dict[str, Any]:
    def side(x: tuple[float, str] | None) -> dict[str, Any]:
        if x is None:
            return {"score": None, "calibrated": None, "ecdf": None, "action": "approve"}
        return {"score": x[0], "calibrated": x[0] / 2, "ecdf": x[0], "action": x[1]}

    rec: dict[str, Any] = {"event_id": "e", "decision": side(a)}
    if b is not None:
        rec["challenger"] = side(b)
    return rec


RECORDS = [
    _rec((0.1, "approve"), (0.2, "approve")),
    _rec((0.5, "review"), (0.4, "approve")),
    _rec((0.9, "deny"), (0.95, "deny")),
    _rec((0.3, "approve"), (0.3, "approve")),
    _rec((0.2, "approve"), None),  # no challenger
    _rec(None, (0.5, "review")),  # pre-policy decision: champion did not score
]


def test_compare_counts_and_correlations() -> None:
    c = compare(RECORDS)
    assert (c.compared, c.skipped) == (4, 2)
    assert c.agreement == 0.75
    assert c.confusion == {
        "approve": {"approve": 2, "review": 0, "deny": 0},
        "review": {"approve": 1, "review": 0, "deny": 0},
        "deny": {"approve": 0, "review": 0, "deny": 1},
    }
    assert c.score_spearman == pytest.approx(1.0)  # same order on both sides
    assert 0.9 < c.score_pearson < 1
    assert c.calibrated_mean_abs_diff == pytest.approx((0.05 + 0.05 + 0.025 + 0) / 4)
    assert c.champion_action_rates == {"approve": 0.5, "review": 0.25, "deny": 0.25}
    assert c.challenger_action_rates == {"approve": 0.75, "review": 0.0, "deny": 0.25}


def test_nothing_to_compare() -> None:
    c = compare([_rec((0.1, "approve"), None)])
    assert (c.compared, c.skipped) == (0, 1)
    assert math.isnan(c.agreement) and math.isnan(c.score_pearson)
    assert "<h1>Champion vs challenger</h1>" in compare_html([])


def test_html_report_has_the_table_and_plots() -> None:
    page = compare_html(RECORDS, title="v1 vs v2")
    assert page.startswith("<!doctype html>")
    assert "<title>v1 vs v2</title>" in page
    assert page.count("data:image/png;base64,") == 2
    assert "<th>agreement</th><td>0.75</td>" in page
