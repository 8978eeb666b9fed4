"""Property tests: row closure == Polars expression == a tiny reference interpreter; no input crashes the parser."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import (
    Arith,
    BoolOp,
    Call,
    Compare,
    Field,
    FieldType,
    InList,
    Literal,
    Neg,
    Node,
    Not,
    RuleError,
    check,
    compile_expr,
)

T = FieldType
FIELDS = {T.STR: ["s1", "s2"], T.FLOAT: ["f1", "f2"], T.INT: ["i1", "i2"], T.BOOL: ["b1", "b2"], T.DATETIME: ["t1"]}
SCHEMA = {name: t for t, names in FIELDS.items() for name in names}
DTYPES = {
    T.FLOAT: pl.Float64(),
    T.INT: pl.Int64(),
    T.STR: pl.String(),
    T.BOOL: pl.Boolean(),
    T.DATETIME: pl.Datetime("us", "UTC"),
}
ABSENT = object()

# --- random well-typed source text -------------------------------------------------------------------------------

LITERALS: dict[FieldType, st.SearchStrategy[str]] = {
    T.STR: st.text(alphabet="abAB", max_size=3).map(json.dumps),
    T.FLOAT: st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False).map(repr),
    T.INT: st.integers(-20, 20).map(str),
    T.BOOL: st.sampled_from(["true", "false", "True"]),
}


def leaf(t: FieldType) -> st.SearchStrategy[str]:
    fields = st.sampled_from(FIELDS[t])
    return st.one_of(fields, LITERALS[t]) if t in LITERALS else fields


def p(s: str) -> str:
    return f"({s})"


def expr(t: FieldType, depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return leaf(t)
    sub = lambda u: expr(u, depth - 1)  # noqa: E731
    num = st.sampled_from([T.INT, T.FLOAT]).flatmap(sub)
    options: list[st.SearchStrategy[str]] = [leaf(t)]
    if t is T.BOOL:
        ordered = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
        options += [
            st.tuples(num, ordered, num).map(lambda x: f"{p(x[0])} {x[1]} {p(x[2])}"),
            st.tuples(sub(T.STR), ordered, sub(T.STR)).map(lambda x: f"{p(x[0])} {x[1]} {p(x[2])}"),
            st.tuples(sub(T.DATETIME), ordered, sub(T.DATETIME)).map(lambda x: f"{p(x[0])} {x[1]} {p(x[2])}"),
            st.tuples(sub(T.BOOL), st.sampled_from(["==", "!="]), sub(T.BOOL)).map(
                lambda x: f"{p(x[0])} {x[1]} {p(x[2])}"
            ),
            st.tuples(
                num,
                st.sampled_from(["in", "not in"]),
                st.lists(st.one_of(LITERALS[T.INT], LITERALS[T.FLOAT]), min_size=1, max_size=4),
            ).map(lambda x: f"{p(x[0])} {x[1]} [{', '.join(x[2])}]"),
            st.tuples(
                sub(T.STR), st.sampled_from(["in", "not in"]), st.lists(LITERALS[T.STR], min_size=1, max_size=4)
            ).map(lambda x: f"{p(x[0])} {x[1]} [{', '.join(x[2])}]"),
            st.tuples(st.lists(sub(T.BOOL), min_size=2, max_size=4), st.sampled_from([" and ", " or "])).map(
                lambda x: x[1].join(p(s) for s in x[0])
            ),
            sub(T.BOOL).map(lambda s: f"not {p(s)}"),
            st.sampled_from(list(FIELDS)).flatmap(sub).map(lambda s: f"is_missing({s})"),
            st.tuples(sub(T.STR), sub(T.STR)).map(lambda x: f"startswith({x[0]}, {x[1]})"),
            st.tuples(sub(T.BOOL), sub(T.BOOL)).map(lambda x: f"coalesce({x[0]}, {x[1]})"),
        ]
    elif t is T.INT:
        options += [
            st.tuples(sub(T.INT), st.sampled_from(["+", "-", "*"]), sub(T.INT)).map(
                lambda x: f"{p(x[0])} {x[1]} {p(x[2])}"
            ),
            sub(T.INT).map(lambda s: f"-{p(s)}"),
            sub(T.INT).map(lambda s: f"abs({s})"),
            st.tuples(st.sampled_from(["min", "max", "coalesce"]), sub(T.INT), sub(T.INT)).map(
                lambda x: f"{x[0]}({x[1]}, {x[2]})"
            ),
            st.tuples(st.sampled_from(["hour_of", "day_of_week"]), sub(T.DATETIME)).map(lambda x: f"{x[0]}({x[1]})"),
        ]
    elif t is T.FLOAT:
        options += [
            st.tuples(sub(T.FLOAT), st.sampled_from(["+", "-", "*", "/"]), num).map(
                lambda x: f"{p(x[0])} {x[1]} {p(x[2])}"
            ),
            st.tuples(num, num).map(lambda x: f"{p(x[0])} / {p(x[1])}"),
            sub(T.FLOAT).map(lambda s: f"-{p(s)}"),
            sub(T.FLOAT).map(lambda s: f"abs({s})"),
            st.tuples(st.sampled_from(["min", "max", "coalesce"]), sub(T.FLOAT), num).map(
                lambda x: f"{x[0]}({x[1]}, {x[2]})"
            ),
        ]
    elif t is T.STR:
        options += [
            sub(T.STR).map(lambda s: f"lower({s})"),
            st.tuples(sub(T.STR), sub(T.STR)).map(lambda x: f"coalesce({x[0]}, {x[1]})"),
        ]
    else:
        options += [st.tuples(sub(T.DATETIME), sub(T.DATETIME)).map(lambda x: f"coalesce({x[0]}, {x[1]})")]
    return st.one_of(options)


typed_sources = st.tuples(st.sampled_from(list(FIELDS)), st.integers(0, 3)).flatmap(lambda x: expr(x[0], x[1]))

# --- random rows, missing values included ------------------------------------------------------------------------

VALUES: dict[FieldType, st.SearchStrategy[Any]] = {
    T.STR: st.text(alphabet="abAB", max_size=3),
    T.FLOAT: st.one_of(
        st.floats(-1e3, 1e3, allow_nan=False),
        st.sampled_from([0.0, -0.0, 1e308, -1e308, math.inf, -math.inf, math.nan]),
    ),
    T.INT: st.one_of(st.integers(-50, 50), st.sampled_from([0, 2**63 - 1, -(2**63)])),
    T.BOOL: st.booleans(),
    T.DATETIME: st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 1, 1), timezones=st.just(dt.UTC)),
}
rows_strategy = st.lists(
    st.fixed_dictionaries({name: st.one_of(st.just(ABSENT), st.none(), VALUES[t]) for name, t in SCHEMA.items()}).map(
        lambda d: {k: v for k, v in d.items() if v is not ABSENT}
    ),
    min_size=1,
    max_size=8,
)

# --- the reference interpreter: walks the AST directly, written from the README's rules --------------------------


def wrap(v: int) -> int:
    return (v + 2**63) % 2**64 - 2**63


def ref(node: Node, row: Mapping[str, Any]) -> Any:
    t = check(node, SCHEMA)
    match node:
        case Literal(value=v):
            return v
        case Field(name=name):
            v = row.get(name)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return None
            return float(v) if t is T.FLOAT else v
        case Compare(op=op, left=left, right=right):
            a, b = ref(left, row), ref(right, row)
            if a is None or b is None:
                return False
            if check(left, SCHEMA) is not check(right, SCHEMA):
                a, b = float(a), float(b)
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]
        case InList(operand=operand, values=values, negated=negated):
            v = ref(operand, row)
            if v is None:
                return False
            if isinstance(v, float) or any(isinstance(x, float) for x in values):
                v, values = float(v), tuple(float(x) for x in values)
            return (v in values) != negated
        case BoolOp(op=op, operands=operands):
            results = [ref(o, row) is True for o in operands]
            return all(results) if op == "and" else any(results)
        case Not(operand=operand):
            return ref(operand, row) is not True
        case Arith(op=op, left=left, right=right):
            a, b = ref(left, row), ref(right, row)
            if a is None or b is None:
                return None
            if t is T.INT:
                return wrap({"+": a + b, "-": a - b, "*": a * b}[op])
            a, b = float(a), float(b)
            if op == "/":
                return None if b == 0 else a / b
            out = {"+": a + b, "-": a - b, "*": a * b}[op]
            return None if math.isnan(out) else out
        case Neg(operand=operand):
            v = ref(operand, row)
            return None if v is None else (wrap(-v) if t is T.INT else -v)
        case Call(name=name, args=args):
            values = [ref(a, row) for a in args]
            if t is T.FLOAT:
                values = [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in values]
            if name == "is_missing":
                return values[0] is None
            if name == "coalesce":
                return values[0] if values[0] is not None else values[1]
            if name == "startswith":
                return None not in values and values[0].startswith(values[1])
            if None in values:
                return None
            v = values[0]
            return {
                "lower": lambda: v.lower(),
                "abs": lambda: wrap(abs(v)) if t is T.INT else abs(v),
                "min": lambda: v if v <= values[1] else values[1],
                "max": lambda: v if v >= values[1] else values[1],
                "hour_of": lambda: v.hour,
                "day_of_week": lambda: v.weekday(),
            }[name]()
    raise AssertionError(node)


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b) and type(a) is type(b)


@settings(max_examples=200, deadline=None)
@given(source=typed_sources, rows=rows_strategy)
def test_row_polars_and_reference_agree(source: str, rows: list[dict[str, Any]]) -> None:
    compiled = compile_expr(source, SCHEMA)
    frame = pl.DataFrame(
        {name: [row.get(name) for row in rows] for name in SCHEMA},
        schema={name: DTYPES[t] for name, t in SCHEMA.items()},
    )
    by_polars = frame.with_columns(__out=compiled.expr)["__out"].to_list()
    for row, from_polars in zip(rows, by_polars, strict=True):
        by_row = compiled.row(row)
        expected = ref(compiled.node, row)
        if compiled.type is T.BOOL:
            expected = expected is True
            assert type(by_row) is bool
            assert from_polars is not None
        assert same(by_row, expected), (source, row, by_row, expected)
        assert same(by_row, from_polars), (source, row, by_row, from_polars)


# --- fuzz: anything in, compiled expression or RuleError out -----------------------------------------------------

EMPTY_ROW: dict[str, Any] = {}
FULL_ROW = {
    "s1": "ab",
    "s2": "",
    "f1": 0.0,
    "f2": 1.5,
    "i1": 0,
    "i2": -3,
    "b1": True,
    "b2": False,
    "t1": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
}


def compile_or_refuse(source: str) -> None:
    refused: RuleError | None = None
    try:
        compiled = compile_expr(source, SCHEMA)
    except RuleError as error:
        refused = error
    if refused is not None:
        assert refused.problem
        assert refused.column is None or 1 <= refused.column <= len(source) + 1
        return
    # Whatever compiles also runs, on missing and on present values.
    compiled.row(EMPTY_ROW)
    compiled.row(FULL_ROW)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_text_compiles_or_raises_rule_error(source: str) -> None:
    compile_or_refuse(source)


TOKENS = [
    "(",
    ")",
    "**",
    ".",
    "[",
    "]",
    ",",
    "'",
    '"',
    "lambda",
    " and ",
    " not ",
    " in ",
    "-",
    "/",
    "1e999",
    "_",
    "x",
    "if",
    ":=",
    "\\",
    "\n",
    "\x00",
    "é",
    "f'",
    "9" * 30,
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    source = draw(typed_sources)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(source)))
        if draw(st.booleans()):
            source = source[:at] + draw(st.sampled_from(TOKENS)) + source[at:]
        else:
            source = source[:at] + source[at + draw(st.integers(1, 4)) :]
    return source


@settings(max_examples=200, deadline=None)
@given(mutated())
def test_mutated_expressions_compile_or_raise_rule_error(source: str) -> None:
    compile_or_refuse(source)


def test_pathological_inputs_are_refused_quickly() -> None:
    for source in [
        "(" * 3000,
        "(" * 150 + "1" + ")" * 150,
        "-" * 4000 + "1",
        "not " * 1000 + "b1",
        "+".join(["i1"] * 2000),
        "i1" + " * i1" * 800,
        "[" * 2000,
        "9" * 4096,
        "'" + "a" * 4000,
    ]:
        compile_or_refuse(source)
