"""Parse, check and compile an expression once into a row closure and a Polars expression that agree.

All dispatch on node types happens here, at compile time; the row closure is a tree of small closures that only
does the work of the expression (no AST walk, no isinstance per row).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from rules.errors import RuleError
from rules.functions import FUNCTIONS
from rules.nodes import Arith, BoolOp, Call, Compare, Field, InList, Literal, Neg, Node, Not
from rules.operators import ARITHMETIC, COMPARISONS, RowFn, wrap_int64
from rules.parser import parse
from rules.parts import Part, as_condition, as_float, constant, missing_to_none_float
from rules.typecheck import Types, annotate, value_type
from rules.types import NUMERIC, FieldType, Schema

Row = Mapping[str, Any]

_DTYPES: dict[FieldType, pl.DataType] = {
    FieldType.STR: pl.String(),
    FieldType.INT: pl.Int64(),
    FieldType.FLOAT: pl.Float64(),
    FieldType.BOOL: pl.Boolean(),
}


@dataclass(frozen=True)
class CompiledExpr:
    """An expression compiled once, ready to run on rows or on frames."""

    source: str
    """The source text as given."""
    node: Node
    """The parsed AST."""
    type: FieldType
    """The result type (FLOAT when ``expect=FLOAT`` widened an INT expression)."""
    fields: frozenset[str]
    """Names of the fields the expression reads."""
    row: RowFn
    """Row evaluator: BOOL expressions return a real bool, others a value or None (missing)."""
    expr: pl.Expr
    """Polars twin of ``row``: BOOL expressions give a Boolean without nulls, others may be null."""


def compile_expr(source: str, schema: Schema, *, expect: FieldType | None = None) -> CompiledExpr:
    """Parse, type-check and compile ``source`` against ``schema``.

    ``expect`` demands a result type: ``BOOL`` turns a non-boolean expression into the error
    ``condition must be boolean, got float``; ``FLOAT`` also accepts an INT expression and widens it.
    Every failure is a RuleError.
    """
    node = parse(source)
    types = annotate(node, schema)
    result = types[id(node)]
    widen = expect is FieldType.FLOAT and result is FieldType.INT
    if expect is not None and result is not expect and not widen:
        if expect is FieldType.BOOL:
            raise RuleError(f"condition must be boolean, got {result.value}")
        raise RuleError(f"expression must be {expect.value}, got {result.value}")
    compiler = _Compiler(types)
    part = compiler.visit(node)
    if result is FieldType.BOOL:
        part = as_condition(part)
    if widen:
        part, result = as_float(part), FieldType.FLOAT
    return CompiledExpr(source, node, result, frozenset(compiler.fields), part.row, part.expr)


class _Compiler:
    def __init__(self, types: Types) -> None:
        self.types = types
        self.fields: set[str] = set()

    def type_of(self, node: Node) -> FieldType:
        return self.types[id(node)]

    def visit(self, node: Node) -> Part:
        part = self._build(node)
        if part.is_const or _reads_fields(node):
            return part
        # Fold field-free sub-expressions (`lower("A")`, `1 / 0`) into literals, once: Polars would evaluate them to
        # a single row that does not broadcast in every context, and the row closure saves the work.
        value_type_ = self.type_of(node)
        if value_type_ is FieldType.DATETIME:
            return part
        return constant(part.row({}), _DTYPES[value_type_])

    def _build(self, node: Node) -> Part:
        match node:
            case Literal(value=value):
                return constant(value, _DTYPES[value_type(value)])
            case Field(name=name):
                self.fields.add(name)
                return _field(name, self.type_of(node))
            case Compare():
                return self._compare(node)
            case InList():
                return self._in_list(node)
            case BoolOp(op=op, operands=operands):
                return _bool_op(op, [(o, as_condition(self.visit(o))) for o in operands])
            case Not(operand=operand):
                inner = as_condition(self.visit(operand))
                fn = inner.row
                return Part(lambda r: not fn(r), ~inner.expr, nullable=False)
            case Arith():
                return self._arith(node)
            case Neg(operand=operand):
                return self._neg(self.visit(operand), self.type_of(node))
            case Call(name=name, args=args):
                parts = [self.visit(a) for a in args]
                return FUNCTIONS[name].build(parts, [self.type_of(a) for a in args], self.type_of(node))

    def _numbers(self, left: Node, right: Node, *, to_float: bool) -> tuple[Part, Part]:
        """Compile two numeric operands, converting INT sides to float where the operation is done in floats."""
        parts = []
        for node in (left, right):
            part = self.visit(node)
            parts.append(as_float(part) if to_float and self.type_of(node) is FieldType.INT else part)
        return parts[0], parts[1]

    def _compare(self, node: Compare) -> Part:
        lt, rt = self.type_of(node.left), self.type_of(node.right)
        # Python compares int with float exactly, Polars in floats: make the row do what Polars does.
        mixed = lt in NUMERIC and rt in NUMERIC and lt is not rt
        left, right = self._numbers(node.left, node.right, to_float=mixed)
        if (left.is_const and left.const is None) or (right.is_const and right.const is None):
            return constant(False, pl.Boolean())  # a folded missing side, e.g. `n > 1 / 0`
        op = COMPARISONS[node.op]
        expr = op.polars(left.expr, right.expr)
        if left.nullable or right.nullable:
            expr = expr.fill_null(False)
        return Part(_compare_row(op.row, left, right, node.left, self.type_of(node.left)), expr, nullable=False)

    def _in_list(self, node: InList) -> Part:
        operand_type = self.type_of(node.operand)
        part = self.visit(node.operand)
        values: list[Any] = list(node.values)
        dtype = _DTYPES[operand_type]
        if operand_type in NUMERIC and (operand_type is FieldType.FLOAT or any(isinstance(v, float) for v in values)):
            part, values, dtype = as_float(part), [float(v) for v in values], pl.Float64()
        lookup = frozenset(values)
        if part.is_const:
            # Fold `5 in [5]`: Polars would give a one-row result that does not broadcast.
            return constant(part.const is not None and (part.const in lookup) != node.negated, pl.Boolean())
        fn = part.row
        direct = operand_type is FieldType.STR and isinstance(node.operand, Field)
        name = node.operand.name if isinstance(node.operand, Field) else ""
        # An imploded list literal: is_in on a bare same-typed Series is deprecated in Polars as ambiguous.
        found = part.expr.is_in(pl.Series(values, dtype=dtype).implode())
        if node.negated:

            def row(r: Row) -> bool:
                v = fn(r)
                return v is not None and v not in lookup

            expr = (part.expr.is_not_null() & ~found).fill_null(False)
        elif direct:
            # `mcc in [...]` on a string field: read the row directly, one closure call less.

            def row(r: Row) -> bool:
                v = r.get(name)
                return v is not None and v in lookup

            expr = found.fill_null(False)
        else:

            def row(r: Row) -> bool:
                v = fn(r)
                return v is not None and v in lookup

            expr = found.fill_null(False)
        return Part(row, expr, nullable=False)

    def _arith(self, node: Arith) -> Part:
        result = self.type_of(node)
        op = ARITHMETIC[node.op]
        in_floats = result is FieldType.FLOAT
        left, right = self._numbers(node.left, node.right, to_float=in_floats)
        fn = op.row_float if in_floats else op.row_int
        lf, rf = left.row, right.row

        def row(r: Row) -> Any:
            a = lf(r)
            if a is None:
                return None
            b = rf(r)
            if b is None:
                return None
            return fn(a, b)

        part = Part(row, op.polars(left.expr, right.expr), nullable=True)
        # inf - inf and 0 * inf give NaN; NaN is missing in both backends.
        return missing_to_none_float(part) if in_floats else part

    @staticmethod
    def _neg(inner: Part, result: FieldType) -> Part:
        fn = inner.row
        fix: Callable[[Any], Any] = wrap_int64 if result is FieldType.INT else (lambda v: v)

        def row(r: Row) -> Any:
            v = fn(r)
            return None if v is None else fix(-v)

        return Part(row, -inner.expr, inner.nullable)


def _field(name: str, field_type: FieldType) -> Part:
    if field_type is FieldType.FLOAT:
        # Ints are accepted in float fields; NaN is missing, as in the Polars twin below.
        def row(r: Row) -> Any:
            v = r.get(name)
            return None if v is None or v != v else float(v)

        return Part(row, pl.col(name).cast(pl.Float64).fill_nan(None), nullable=True)
    column = pl.col(name)
    dtype = _DTYPES.get(field_type)
    return Part(lambda r: r.get(name), column if dtype is None else column.cast(dtype), nullable=True)


def _compare_row(
    fn: Callable[[Any, Any], bool], left: Part, right: Part, left_node: Node, left_type: FieldType
) -> RowFn:
    lf = left.row
    if right.is_const and isinstance(left_node, Field) and left_type in (FieldType.STR, FieldType.FLOAT):
        # The most common shape, `field < 5` / `mcc == "5411"`: read the row directly instead of through the field's
        # closure (one call less per comparison); the same missing, NaN and int-to-float rules as `_field`.
        name, c = left_node.name, right.const
        if left_type is FieldType.FLOAT:

            def float_field(r: Row) -> bool:
                v = r.get(name)
                return v is not None and v == v and fn(float(v), c)

            return float_field

        def str_field(r: Row) -> bool:
            v = r.get(name)
            return v is not None and fn(v, c)

        return str_field
    if right.is_const:
        # The common `field < 5`: close over the constant instead of calling a closure for it.
        c = right.const

        def against_constant(r: Row) -> bool:
            a = lf(r)
            return a is not None and fn(a, c)

        return against_constant
    rf = right.row

    def general(r: Row) -> bool:
        a = lf(r)
        if a is None:
            return False
        b = rf(r)
        return b is not None and fn(a, b)

    return general


def _reads_fields(node: Node) -> bool:
    """Whether the value of ``node`` depends on the row."""
    match node:
        case Literal():
            return False
        case Field():
            return True
        case Compare(left=left, right=right) | Arith(left=left, right=right):
            return _reads_fields(left) or _reads_fields(right)
        case InList(operand=operand) | Not(operand=operand) | Neg(operand=operand):
            return _reads_fields(operand)
        case BoolOp(operands=operands):
            return any(_reads_fields(o) for o in operands)
        case Call(args=args):
            return any(_reads_fields(a) for a in args)


def _cost(node: Node) -> int:
    """A rough evaluation cost, to run cheap operands of and/or first."""
    match node:
        case Literal() | Field():
            return 1
        case Compare(left=left, right=right) | Arith(left=left, right=right):
            return 1 + _cost(left) + _cost(right)
        case InList(operand=operand):
            return 2 + _cost(operand)
        case BoolOp(operands=operands):
            return 1 + sum(_cost(o) for o in operands)
        case Not(operand=operand) | Neg(operand=operand):
            return 1 + _cost(operand)
        case Call(args=args):
            return 3 + sum(_cost(a) for a in args)


def _bool_op(op: str, operands: Sequence[tuple[Node, Part]]) -> Part:
    # Every operand is total and side-effect free, so running cheaper ones first cannot change the result.
    ordered = [part.row for _, part in sorted(operands, key=lambda item: _cost(item[0]))]
    exprs = [part.expr for _, part in operands]
    if op == "and":
        expr = exprs[0] & exprs[1] if len(exprs) == 2 else pl.all_horizontal(exprs)
        return Part(_all(ordered), expr, nullable=False)
    expr = exprs[0] | exprs[1] if len(exprs) == 2 else pl.any_horizontal(exprs)
    return Part(_any(ordered), expr, nullable=False)


def _all(fns: Sequence[RowFn]) -> RowFn:
    if len(fns) == 2:
        a, b = fns
        return lambda r: a(r) and b(r)
    # A loop rather than nested closures: a long `a and b and ...` must not deepen the call stack.
    frozen = tuple(fns)

    def row(r: Row) -> bool:
        # A plain loop: a generator inside all() costs more than the comparisons themselves.
        for f in frozen:  # noqa: SIM110 - see above
            if not f(r):
                return False
        return True

    return row


def _any(fns: Sequence[RowFn]) -> RowFn:
    if len(fns) == 2:
        a, b = fns
        return lambda r: a(r) or b(r)
    frozen = tuple(fns)

    def row(r: Row) -> bool:
        for f in frozen:  # noqa: SIM110 - a plain loop, as in _all
            if f(r):
                return True
        return False

    return row
