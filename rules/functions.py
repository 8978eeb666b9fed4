"""The function table: each function's type rule and its builder of both backends, side by side.

A function only sees present values where the language says so: ``is_missing`` and ``coalesce`` look at missing
values, every other function gives missing (or false, for ``startswith``) when an argument is missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from rules.errors import RuleError
from rules.nodes import Node, describe
from rules.operators import wrap_int64
from rules.parts import Part, as_float
from rules.registry import Registry
from rules.types import NUMERIC, FieldType, numeric_result

TypeRule = Callable[[Sequence[Node], Sequence[FieldType]], FieldType]
"""Argument nodes and their types -> result type; raises RuleError naming the offending argument."""
Builder = Callable[[Sequence[Part], Sequence[FieldType], FieldType], Part]
"""Compiled arguments, their types and the result type -> the compiled call."""
Row = Mapping[str, Any]


@dataclass(frozen=True)
class Function:
    """One entry of the function table."""

    name: str
    """Name as called in expressions."""
    arity: int
    """Exact number of positional arguments."""
    signature: str
    """Human signature for the README and error messages, e.g. ``min(number, number) -> number``."""
    type_rule: TypeRule
    """Checks argument types and gives the result type."""
    build: Builder
    """Builds the row closure and the Polars expression together."""


FUNCTIONS: Registry[Function] = Registry("function")
"""Every callable function, by name."""


def _problem(name: str, need: str, node: Node, found: FieldType) -> RuleError:
    return RuleError(f"`{name}` needs {need}, got {describe(node)} ({found.value})", node.pos or None)


def _one_of(name: str, allowed: frozenset[FieldType], need: str) -> Callable[[Node, FieldType], None]:
    def require(node: Node, found: FieldType) -> None:
        if found not in allowed:
            raise _problem(name, need, node, found)

    return require


# --- is_missing -------------------------------------------------------------------------------------------------


def _is_missing_type(args: Sequence[Node], types: Sequence[FieldType]) -> FieldType:
    return FieldType.BOOL


def _is_missing_build(parts: Sequence[Part], types: Sequence[FieldType], result: FieldType) -> Part:
    fn = parts[0].row
    return Part(lambda r: fn(r) is None, parts[0].expr.is_null(), nullable=False)


# --- coalesce ---------------------------------------------------------------------------------------------------


def _coalesce_type(args: Sequence[Node], types: Sequence[FieldType]) -> FieldType:
    a, b = types
    if a in NUMERIC and b in NUMERIC:
        return numeric_result(a, b)
    if a is not b:
        raise RuleError(
            f"`coalesce` needs two values of the same type, got {describe(args[0])} ({a.value}) "
            f"and {describe(args[1])} ({b.value})",
            args[1].pos or None,
        )
    return a


def _coalesce_build(parts: Sequence[Part], types: Sequence[FieldType], result: FieldType) -> Part:
    if result is FieldType.FLOAT:
        parts = [as_float(p) if t is FieldType.INT else p for p, t in zip(parts, types, strict=True)]
    first, second = parts[0].row, parts[1].row

    def row(r: Row) -> Any:
        v = first(r)
        return v if v is not None else second(r)

    return Part(row, pl.coalesce(parts[0].expr, parts[1].expr), parts[0].nullable and parts[1].nullable)


# --- strings ----------------------------------------------------------------------------------------------------

_require_str = _one_of("startswith", frozenset({FieldType.STR}), "strings")


def _startswith_type(args: Sequence[Node], types: Sequence[FieldType]) -> FieldType:
    for node, found in zip(args, types, strict=True):
        _require_str(node, found)
    return FieldType.BOOL


def _startswith_build(parts: Sequence[Part], types: Sequence[FieldType], result: FieldType) -> Part:
    text, prefix = parts[0].row, parts[1].row

    def row(r: Row) -> bool:
        s = text(r)
        if s is None:
            return False
        p = prefix(r)
        return p is not None and bool(s.startswith(p))

    expr = parts[0].expr.str.starts_with(parts[1].expr).fill_null(False)
    return Part(row, expr, nullable=False)


_require_lower = _one_of("lower", frozenset({FieldType.STR}), "a string")


def _lower_type(args: Sequence[Node], types: Sequence[FieldType]) -> FieldType:
    _require_lower(args[0], types[0])
    return FieldType.STR


def _lower_build(parts: Sequence[Part], types: Sequence[FieldType], result: FieldType) -> Part:
    fn = parts[0].row

    def row(r: Row) -> Any:
        v = fn(r)
        return None if v is None else v.lower()

    return Part(row, parts[0].expr.str.to_lowercase(), parts[0].nullable)


# --- numbers ----------------------------------------------------------------------------------------------------


def _numeric_type(name: str) -> TypeRule:
    require = _one_of(name, NUMERIC, "numbers" if name != "abs" else "a number")

    def rule(args: Sequence[Node], types: Sequence[FieldType]) -> FieldType:
        for node, found in zip(args, types, strict=True):
            require(node, found)
        return numeric_result(*types)

    return rule


def _abs_build(parts: Sequence[Part], types: Sequence[FieldType], result: FieldType) -> Part:
    fn = parts[0].row
    # abs(int64 min) wraps to itself in Polars; wrap_int64 reproduces that.
    fix = wrap_int64 if result is FieldType.INT else (lambda v: v)

    def row(r: Row) -> Any:
        v = fn(r)
        return None if v is None else fix(abs(v))

    return Part(row, parts[0].expr.abs(), parts[0].nullable)


def _extremum_build(pick_first: Callable[[Any, Any], Any]) -> Builder:
    def build(parts: Sequence[Part], types: Sequence[FieldType], result: FieldType) -> Part:
        if result is FieldType.FLOAT:
            parts = [as_float(p) if t is FieldType.INT else p for p, t in zip(parts, types, strict=True)]
        first, second = parts[0].row, parts[1].row

        def row(r: Row) -> Any:
            a = first(r)
            if a is None:
                return None
            b = second(r)
            if b is None:
                return None
            return a if pick_first(a, b) else b

        a, b = parts[0].expr, parts[1].expr
        # min_horizontal/max_horizontal skip nulls; the language says missing in, missing out.
        expr = pl.when(a.is_null() | b.is_null()).then(None).when(pick_first(a, b)).then(a).otherwise(b)
        return Part(row, expr, nullable=True)

    return build


# --- datetimes --------------------------------------------------------------------------------------------------


def _datetime_type(name: str) -> TypeRule:
    require = _one_of(name, frozenset({FieldType.DATETIME}), "a datetime")

    def rule(args: Sequence[Node], types: Sequence[FieldType]) -> FieldType:
        require(args[0], types[0])
        return FieldType.INT

    return rule


def _utc(value: dt.datetime) -> dt.datetime:
    # Rows carry aware UTC datetimes; a naive one is taken as UTC rather than as local time.
    return value if value.tzinfo is None else value.astimezone(dt.UTC)


def _hour_build(parts: Sequence[Part], types: Sequence[FieldType], result: FieldType) -> Part:
    fn = parts[0].row

    def row(r: Row) -> Any:
        v = fn(r)
        return None if v is None else _utc(v).hour

    return Part(row, parts[0].expr.dt.hour().cast(pl.Int64), parts[0].nullable)


def _weekday_build(parts: Sequence[Part], types: Sequence[FieldType], result: FieldType) -> Part:
    fn = parts[0].row

    def row(r: Row) -> Any:
        v = fn(r)
        return None if v is None else _utc(v).weekday()

    # Polars numbers ISO weekdays Monday=1..Sunday=7; Python's weekday() is Monday=0..Sunday=6.
    return Part(row, (parts[0].expr.dt.weekday().cast(pl.Int64) - 1), parts[0].nullable)


for _function in [
    Function("is_missing", 1, "is_missing(any) -> bool", _is_missing_type, _is_missing_build),
    Function("coalesce", 2, "coalesce(T, T) -> T", _coalesce_type, _coalesce_build),
    Function("startswith", 2, "startswith(str, str) -> bool", _startswith_type, _startswith_build),
    Function("lower", 1, "lower(str) -> str", _lower_type, _lower_build),
    Function("abs", 1, "abs(number) -> number", _numeric_type("abs"), _abs_build),
    Function("min", 2, "min(number, number) -> number", _numeric_type("min"), _extremum_build(lambda a, b: a <= b)),
    Function("max", 2, "max(number, number) -> number", _numeric_type("max"), _extremum_build(lambda a, b: a >= b)),
    Function("hour_of", 1, "hour_of(datetime) -> int", _datetime_type("hour_of"), _hour_build),
    Function("day_of_week", 1, "day_of_week(datetime) -> int", _datetime_type("day_of_week"), _weekday_build),
]:
    FUNCTIONS.register(_function.name, _function)
