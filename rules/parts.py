"""A compiled sub-expression: its row closure and its Polars expression, built together."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from rules.operators import RowFn


@dataclass(frozen=True)
class Part:
    """Both backends of one node. ``nullable`` says whether the value can be missing, so that boolean contexts only
    pay for the missing -> false conversion where it can matter."""

    row: RowFn
    """Row closure."""
    expr: pl.Expr
    """Polars twin of ``row``."""
    nullable: bool
    """False when the node can never be missing (comparisons, literals)."""
    is_const: bool = False
    """True for literals, so comparisons can close over the value instead of calling a closure."""
    const: Any = None
    """The literal value when ``is_const``."""


def constant(value: Any, dtype: pl.DataType) -> Part:
    """A literal, or a folded field-free expression (possibly missing, e.g. ``1 / 0``)."""
    return Part(lambda _row: value, pl.lit(value, dtype=dtype), nullable=value is None, is_const=True, const=value)


def as_float(part: Part) -> Part:
    """An INT part used where a FLOAT is expected: convert in both backends (Python would otherwise compare ints
    exactly where Polars compares floats)."""
    if part.is_const:
        return constant(None if part.const is None else float(part.const), pl.Float64())
    fn = part.row

    def row(r: Mapping[str, Any]) -> Any:
        v = fn(r)
        return None if v is None else float(v)

    return Part(row, part.expr.cast(pl.Float64), part.nullable)


def as_condition(part: Part) -> Part:
    """A BOOL part in a boolean context: missing counts as false, and the result is a real bool."""
    if not part.nullable:
        return part
    fn = part.row

    def row(r: Mapping[str, Any]) -> bool:
        return fn(r) is True

    return Part(row, part.expr.fill_null(False), nullable=False)


def missing_to_none_float(part: Part) -> Part:
    """A FLOAT result that may be NaN (inf - inf, 0 * inf): NaN counts as missing in both backends."""
    fn = part.row

    def row(r: Mapping[str, Any]) -> Any:
        v = fn(r)
        return None if v is None or v != v else v

    return Part(row, part.expr.fill_nan(None), nullable=True)
