"""`implies`: only proved implications are claimed, and every claim holds on random rows."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import FieldType, compile_expr, parse
from rules.implies import implies, is_tautology

SCHEMA = {"amount": FieldType.FLOAT, "n": FieldType.INT, "mcc": FieldType.STR, "flag": FieldType.BOOL}


@pytest.mark.parametrize(
    ("later", "earlier"),
    [
        ("amount > 100", "amount > 50"),
        ("amount > 5", "amount >= 5"),
        ("10 < amount", "amount > 5"),
        ("amount == 3", "amount < 5"),
        ("amount in [1, 2.5]", "amount < 3"),
        ('mcc in ["a"]', 'mcc in ["a", "b"]'),
        ('mcc == "a" and amount > 3', 'mcc in ["a", "b"]'),
        ('mcc == "a"', 'mcc not in ["b"]'),
        ('mcc not in ["a", "b"]', 'mcc != "a"'),
        ("amount > 1 or amount > 2", "amount > 0.5"),
        ("amount > 3", 'mcc == "x" or amount > 2'),
        ("amount  >  1", "(amount > 1)"),
        ("n > 5", "n > 5 and n >= 5"),
        ('mcc == "z"', "true"),
        ('mcc == "z"', "flag or not flag"),
    ],
)
def test_proved(later: str, earlier: str) -> None:
    assert implies(parse(later), parse(earlier))


@pytest.mark.parametrize(
    ("later", "earlier"),
    [
        ("amount > 50", "amount > 100"),
        ("amount >= 5", "amount > 5"),
        ('mcc in ["a", "b"]', 'mcc in ["a"]'),
        ('mcc != "a"', 'mcc not in ["a", "b"]'),
        ("not (amount > 5)", "amount <= 5"),  # true on a missing amount: not implied
        ("amount * 2 > 10", "amount > 5"),  # arithmetic: never claimed
        ("n > 9007199254740993", "n > 9007199254740992"),  # beyond exact floats: never claimed
    ],
)
def test_not_claimed(later: str, earlier: str) -> None:
    assert not implies(parse(later), parse(earlier))


def test_tautologies() -> None:
    assert is_tautology(parse("true or amount > 1"))
    assert is_tautology(parse("(amount > 1) or not (amount > 1)"))
    assert not is_tautology(parse("amount > 1 or amount <= 1"))  # both false when amount is missing


_ATOMS = st.sampled_from(
    [
        "amount > 1",
        "amount >= 1",
        "amount < 3",
        "amount <= 2.5",
        "amount == 2",
        "amount != 2",
        "amount in [1, 2, 3]",
        "amount not in [2]",
        "n > 1",
        "n <= 3",
        "n in [1, 2]",
        'mcc == "a"',
        'mcc in ["a", "b"]',
        'mcc not in ["a"]',
        'mcc != "b"',
        "flag",
    ]
)
_CONDS = st.recursive(
    _ATOMS,
    lambda c: st.tuples(c, st.sampled_from(["and", "or"]), c).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
    max_leaves=4,
)
_ROWS = st.fixed_dictionaries(
    {},
    optional={
        "amount": st.sampled_from([0.0, 1.0, 2.0, 2.5, 3.0, 4.0, float("nan")]),
        "n": st.integers(0, 4),
        "mcc": st.sampled_from(["a", "b", "c"]),
        "flag": st.booleans(),
    },
)


@settings(max_examples=300, deadline=None)
@given(_CONDS, _CONDS, st.lists(_ROWS, min_size=1, max_size=20))
def test_every_claim_holds(a: str, b: str, rows: list[dict[str, Any]]) -> None:
    if not implies(parse(a), parse(b)):
        return
    fa, fb = compile_expr(a, SCHEMA).row, compile_expr(b, SCHEMA).row
    for row in rows:
        assert not fa(row) or fb(row), (a, b, row)
