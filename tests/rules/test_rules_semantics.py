"""Row semantics, missing values included, checked on both backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import polars as pl
import pytest

from rules import FieldType, compile_expr

SCHEMA = {
    "amount": FieldType.FLOAT,
    "avg": FieldType.FLOAT,
    "n": FieldType.INT,
    "m": FieldType.INT,
    "mcc": FieldType.STR,
    "country": FieldType.STR,
    "flag": FieldType.BOOL,
    "ts": FieldType.DATETIME,
}
DTYPES = {
    FieldType.FLOAT: pl.Float64(),
    FieldType.INT: pl.Int64(),
    FieldType.STR: pl.String(),
    FieldType.BOOL: pl.Boolean(),
    FieldType.DATETIME: pl.Datetime("us", "UTC"),
}
SUNDAY_23H = dt.datetime(2024, 1, 7, 23, 30, tzinfo=dt.UTC)


def frame(rows: list[Mapping[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        {name: [row.get(name) for row in rows] for name in SCHEMA},
        schema={name: DTYPES[t] for name, t in SCHEMA.items()},
    )


def both(source: str, row: Mapping[str, Any]) -> Any:
    """Evaluate on the row closure and on Polars; they must agree, and the agreed value is returned."""
    compiled = compile_expr(source, SCHEMA)
    by_row = compiled.row(row)
    by_polars = frame([row]).with_columns(out=compiled.expr)["out"].to_list()[0]
    assert by_row == by_polars, (source, row, by_row, by_polars)
    if compiled.type is FieldType.BOOL:
        assert type(by_row) is bool
    return by_row


@pytest.mark.parametrize(
    ("source", "row", "expected"),
    [
        ('amount < 5 and mcc in ["5411", "5812"]', {"amount": 3.0, "mcc": "5411"}, True),
        ('amount < 5 and mcc in ["5411", "5812"]', {"amount": 3, "mcc": "5999"}, False),
        ('country in ["KP", "IR"]', {"country": "KP"}, True),
        ('country not in ["KP", "IR"]', {"country": "BR"}, True),
        ("amount > 5", {"amount": 5.5}, True),
        ("n == 2.0", {"n": 2}, True),
        ("n in [1, 2.5]", {"n": 1}, True),
        ("mcc < 'b'", {"mcc": "a"}, True),
        ("flag", {"flag": True}, True),
        ("flag == false", {"flag": False}, True),
        ("ts > ts", {"ts": SUNDAY_23H}, False),
        ("true or amount > 1", {}, True),
        ("not (n > 1 or m > 1) and flag != true", {"n": 0, "m": 0, "flag": False}, True),
        ("startswith(mcc, '54')", {"mcc": "5411"}, True),
        ("startswith(mcc, country)", {"mcc": "BRA", "country": "BR"}, True),
        ("lower(country) == 'br'", {"country": "BR"}, True),
    ],
)
def test_conditions(source: str, row: Mapping[str, Any], expected: bool) -> None:
    assert both(source, row) is expected


@pytest.mark.parametrize(
    ("source", "row", "expected"),
    [
        # A comparison, `in`, `not in` or startswith with a missing side is false...
        ("amount > 5", {}, False),
        ("amount > 5", {"amount": None}, False),
        ("amount <= 5", {"amount": None}, False),
        ("amount != 5", {}, False),
        ('mcc in ["5411"]', {}, False),
        ('mcc not in ["5411"]', {}, False),
        ("startswith(mcc, '5')", {}, False),
        ("amount == amount", {}, False),
        # ...so its negation is true.
        ("not (amount > 5)", {}, True),
        ("not (mcc in ['x'])", {"mcc": None}, True),
        # A missing boolean field is false in a boolean context.
        ("flag", {}, False),
        ("not flag", {}, True),
        ("flag == false", {}, False),
        ("is_missing(flag)", {}, True),
        ("is_missing(flag)", {"flag": False}, False),
        ("is_missing(amount)", {"amount": 0.0}, False),
        ("is_missing(amount)", {"amount": float("nan")}, True),
        ("is_missing(amount / 0)", {"amount": 1.0}, True),
        ("is_missing(amount > 1)", {}, False),
        ("coalesce(flag, true)", {}, True),
    ],
)
def test_missing_values_in_conditions(source: str, row: Mapping[str, Any], expected: bool) -> None:
    assert both(source, row) is expected


@pytest.mark.parametrize(
    ("source", "row", "expected"),
    [
        ("amount / coalesce(avg, 1.0)", {"amount": 10.0}, 10.0),
        ("amount / coalesce(avg, 1.0)", {"amount": 10.0, "avg": 4.0}, 2.5),
        ("amount / avg", {"amount": 10.0, "avg": 0.0}, None),
        ("amount / avg", {"amount": 10.0, "avg": -0.0}, None),
        ("n / m", {"n": 1, "m": 0}, None),
        ("n / m", {"n": 7, "m": 2}, 3.5),
        ("amount + 1", {}, None),
        ("amount * n", {"amount": 1.5}, None),
        ("-amount", {}, None),
        ("n * 3 - m", {"n": 2, "m": 1}, 5),
        ("n + 0.5", {"n": 2}, 2.5),
        ("amount + 1", {"amount": 2}, 3.0),
        ("abs(n - 10)", {"n": 3}, 7),
        ("abs(amount)", {}, None),
        ("min(n, m)", {"n": 3, "m": 2}, 2),
        ("max(n, m)", {"n": 3}, None),
        ("min(n, 2.5)", {"n": 3}, 2.5),
        ("coalesce(n, m)", {"m": 4}, 4),
        ("coalesce(n, 1.5)", {"n": 4}, 4.0),
        ("coalesce(amount, avg)", {}, None),
        ("coalesce(mcc, 'none')", {}, "none"),
        ("lower(mcc)", {"mcc": "AbC"}, "abc"),
        ("lower(mcc)", {}, None),
        ("hour_of(ts)", {"ts": SUNDAY_23H}, 23),
        ("day_of_week(ts)", {"ts": SUNDAY_23H}, 6),
        ("day_of_week(ts)", {"ts": SUNDAY_23H + dt.timedelta(hours=1)}, 0),
        ("hour_of(ts)", {}, None),
        ("coalesce(ts, ts)", {"ts": SUNDAY_23H}, SUNDAY_23H),
        ("amount * avg - amount * avg", {"amount": 1e308, "avg": 10.0}, None),  # inf - inf is NaN: missing
        ("amount * avg", {"amount": 1e308, "avg": 10.0}, float("inf")),
        ("n * m", {"n": 2**62, "m": 4}, 0),  # int64 wraps like Polars
        ("-n", {"n": -(2**63)}, -(2**63)),
    ],
)
def test_values(source: str, row: Mapping[str, Any], expected: Any) -> None:
    value = both(source, row)
    assert value == expected
    assert type(value) is type(expected)


def test_compiled_expr_fields_and_type() -> None:
    compiled = compile_expr("amount / coalesce(avg, 1.0) > 3 and mcc == '5411'", SCHEMA, expect=FieldType.BOOL)
    assert compiled.fields == frozenset({"amount", "avg", "mcc"})
    assert compiled.type is FieldType.BOOL
    assert compiled.source == "amount / coalesce(avg, 1.0) > 3 and mcc == '5411'"


def test_literals_broadcast_and_true_false_spellings() -> None:
    for source in ("true", "True", "false or True", "1 < 2"):
        compiled = compile_expr(source, SCHEMA)
        out = frame([{}, {}, {}]).with_columns(out=compiled.expr)["out"].to_list()
        assert out == [True] * 3
        assert compiled.row({}) is True


def test_and_or_stop_at_the_first_decisive_operand() -> None:
    seen: list[str] = []

    class Spy(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            seen.append(key)
            return super().get(key, default)

    compile_expr("n > 1 and m > 1", SCHEMA).row(Spy(n=0, m=5))
    assert seen == ["n"]
    seen.clear()
    compile_expr("n > 1 or m > 1 or amount > 1", SCHEMA).row(Spy(n=5, m=5))
    assert seen == ["n"]


def test_cheaper_operand_runs_first() -> None:
    seen: list[str] = []

    class Spy(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            seen.append(key)
            return super().get(key, default)

    compile_expr("lower(mcc) == 'x' and n > 1", SCHEMA).row(Spy(n=0, mcc="x"))
    assert seen == ["n"]


def test_long_and_chain_does_not_deepen_the_stack() -> None:
    source = " and ".join(["n > 1"] * 400)
    compiled = compile_expr(source, SCHEMA)
    assert compiled.row({"n": 2}) is True
    assert compiled.row({}) is False


def test_indented_and_multiline_source() -> None:
    assert both("  (amount > 1 and\n   n > 1)", {"amount": 2.0, "n": 2}) is True
