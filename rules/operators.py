"""The operator table: each operator's row function beside its Polars function, so the two cannot drift.

Entries apply to *present* values only; the compiler wraps them with the missing-value rules (a comparison with a
missing side is false, arithmetic with a missing side is missing) once, at compile time.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from rules.registry import Registry

RowFn = Callable[[Mapping[str, Any]], Any]
"""A compiled row evaluator: row in, value (or None for missing) out."""

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1
_U64_MASK = 2**64 - 1


def wrap_int64(value: int) -> int:
    """Wrap an integer into int64 like Polars does, so both backends agree and Python ints cannot grow unbounded."""
    if _I64_MIN <= value <= _I64_MAX:
        return value
    return ((value - _I64_MIN) & _U64_MASK) + _I64_MIN


@dataclass(frozen=True)
class CompareOp:
    """A comparison: the same function works on Python values and on Polars expressions."""

    symbol: str
    """Operator as written."""
    row: Callable[[Any, Any], bool]
    """Applied to two present Python values."""
    polars: Callable[[pl.Expr, pl.Expr], pl.Expr]
    """Applied to two expressions; nulls are filled with False by the compiler."""
    ordering: bool
    """True for < <= > >=, which booleans do not support."""


@dataclass(frozen=True)
class ArithOp:
    """An arithmetic operator with its row functions for int and float results and its Polars function."""

    symbol: str
    """Operator as written."""
    row_int: Callable[[Any, Any], Any]
    """Applied to two present ints when the result type is INT (wraps like int64)."""
    row_float: Callable[[Any, Any], Any]
    """Applied to two present numbers when the result type is FLOAT."""
    polars: Callable[[pl.Expr, pl.Expr], pl.Expr]
    """Applied to two expressions (already cast to Float64 when the result is FLOAT)."""
    int_closed: bool
    """True when int op int stays int (false for ``/``, which always gives a float)."""


def _div(a: float, b: float) -> float | None:
    # Division by zero is missing, never an exception; float() matches Polars, which casts before dividing.
    return None if b == 0 else float(a) / float(b)


def _polars_div(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return pl.when(b == 0).then(None).otherwise(a / b)


COMPARISONS: Registry[CompareOp] = Registry("comparison")
"""Comparison operators by symbol."""
ARITHMETIC: Registry[ArithOp] = Registry("arithmetic operator")
"""Arithmetic operators by symbol."""

for _symbol, _fn, _ordering in [
    ("<", operator.lt, True),
    ("<=", operator.le, True),
    (">", operator.gt, True),
    (">=", operator.ge, True),
    ("==", operator.eq, False),
    ("!=", operator.ne, False),
]:
    COMPARISONS.register(_symbol, CompareOp(_symbol, _fn, _fn, _ordering))

ARITHMETIC.register("+", ArithOp("+", lambda a, b: wrap_int64(a + b), operator.add, operator.add, True))
ARITHMETIC.register("-", ArithOp("-", lambda a, b: wrap_int64(a - b), operator.sub, operator.sub, True))
ARITHMETIC.register("*", ArithOp("*", lambda a, b: wrap_int64(a * b), operator.mul, operator.mul, True))
ARITHMETIC.register("/", ArithOp("/", _div, _div, _polars_div, False))
