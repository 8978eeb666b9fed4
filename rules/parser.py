"""Source text -> typed AST, through Python's own parser and a strict whitelist.

Python's ``ast`` module only *parses*; nothing here evaluates or compiles Python code. Every node type that is not
explicitly converted below is refused with a RuleError, so the language is exactly what this file accepts.
"""

from __future__ import annotations

import ast
import re
import warnings
from typing import TypeGuard

from rules.errors import RuleError
from rules.functions import FUNCTIONS
from rules.nodes import (
    Arith,
    ArithOp,
    BoolOp,
    Call,
    Compare,
    CompareOp,
    Field,
    InList,
    Literal,
    Neg,
    Node,
    Not,
    Value,
)

MAX_SOURCE_CHARS = 4096
"""Longest accepted source text, in characters."""
MAX_DEPTH = 64
"""Deepest accepted nesting of operators and calls."""
MAX_LIST_ITEMS = 1000
"""Longest accepted ``in`` list."""

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

_COMPARE_OPS: dict[type[ast.cmpop], CompareOp] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
}
_ARITH_OPS: dict[type[ast.operator], ArithOp] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_REFUSED_OPS: dict[type[ast.AST], str] = {
    ast.Pow: "`**` is not allowed",
    ast.Mod: "`%` is not supported",
    ast.FloorDiv: "`//` is not supported; use `/`",
    ast.MatMult: "`@` is not supported",
    ast.LShift: "`<<` is not supported",
    ast.RShift: "`>>` is not supported",
    ast.BitAnd: "`&` is not supported; use `and`",
    ast.BitOr: "`|` is not supported; use `or`",
    ast.BitXor: "`^` is not supported",
    ast.Invert: "`~` is not supported; use `not`",
    ast.UAdd: "unary `+` is not supported",
    ast.Is: "`is` is not supported; use is_missing(x)",
    ast.IsNot: "`is not` is not supported; use not is_missing(x)",
}
_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.NamedExpr: "assignment (`:=`) is not allowed",
    ast.IfExp: "conditional expressions (`x if c else y`) are not supported",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Tuple: "tuples are not allowed",
    ast.List: "lists are only allowed on the right of `in` / `not in`",
    ast.Starred: "`*` unpacking is not allowed",
    ast.Slice: "slices are not allowed",
    ast.Await: "`await` is not allowed",
    ast.Yield: "`yield` is not allowed",
    ast.YieldFrom: "`yield` is not allowed",
}
_BOOL_NAMES = {"true": True, "True": True, "false": False, "False": False}
_NULL_NAMES = {"null", "None", "none", "NULL"}


def parse(source: str) -> Node:
    """Parse an expression into the typed AST. Raises RuleError (with a column) for anything outside the language.

    The whole source is bounded (``MAX_SOURCE_CHARS``, ``MAX_DEPTH``, ``MAX_LIST_ITEMS``) so that no input can make
    the parser or the compiled closures hang or overflow the stack.
    """
    if len(source) > MAX_SOURCE_CHARS:
        raise RuleError(f"expression is too long ({len(source)} characters; the limit is {MAX_SOURCE_CHARS})")
    # Python refuses leading indentation in eval mode; analysts' YAML often has some.
    body = source.lstrip()
    if not body.strip():
        raise RuleError("expression is empty")
    return _Converter(body, len(source) - len(body)).convert(_parse_python(body, len(source) - len(body)), 0)


def _parse_python(body: str, lead: int) -> ast.expr:
    try:
        # Some odd inputs make the compiler warn (invalid escapes, `1 is 1`); warnings must not leak or, under
        # `-W error`, turn into exceptions of another type.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(body, mode="eval")
    except SyntaxError as error:
        line = error.lineno or 1
        column = None if error.offset is None else _line_start(body, line) + max(error.offset, 1) + lead
        raise RuleError(f"syntax error: {error.msg}", column) from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as error:
        raise RuleError(f"expression could not be parsed: {error}") from None
    return tree.body


def _line_start(text: str, line: int) -> int:
    """Character offset of the start of 1-based ``line`` in ``text``."""
    if line <= 1:
        return 0
    breaks = list(_LINE_BREAK.finditer(text))
    return breaks[line - 2].end() if line - 2 < len(breaks) else len(text)


class _Converter:
    """Turns whitelisted Python AST nodes into ours, keeping source columns for error messages."""

    def __init__(self, body: str, lead: int) -> None:
        self._body = body
        self._lead = lead
        self._lines = _LINE_BREAK.split(body)

    def column(self, node: ast.AST) -> int:
        """1-based character column of ``node`` in the original source (ast gives UTF-8 byte offsets per line)."""
        line = getattr(node, "lineno", 1)
        offset = getattr(node, "col_offset", 0)
        text = self._lines[line - 1] if line - 1 < len(self._lines) else ""
        chars = len(text.encode("utf-8")[:offset].decode("utf-8", errors="ignore"))
        return self._lead + _line_start(self._body, line) + chars + 1

    def refuse(self, node: ast.AST, problem: str) -> RuleError:
        """A RuleError located at ``node``, for the caller to raise."""
        return RuleError(problem, self.column(node))

    def snippet(self, node: ast.AST) -> str:
        """The source text of ``node``, for messages."""
        return ast.get_source_segment(self._body, node) or type(node).__name__

    def convert(self, node: ast.expr, depth: int) -> Node:
        """Convert one node (and its children) or refuse it."""
        if depth > MAX_DEPTH:
            raise self.refuse(node, f"expression is nested too deeply (the limit is {MAX_DEPTH} levels)")
        pos = self.column(node)
        match node:
            case ast.Constant():
                return Literal(value=self.constant(node), pos=pos)
            case ast.Name(id=name) if name in _BOOL_NAMES:
                return Literal(value=_BOOL_NAMES[name], pos=pos)
            case ast.Name(id=name):
                if name in _NULL_NAMES:
                    raise self.refuse(node, f"`{name}` is not a value; use is_missing(x) to test for a missing value")
                return Field(name=name, pos=pos)
            case ast.BoolOp(op=op, values=values):
                operands = tuple(self.convert(v, depth + 1) for v in values)
                return BoolOp(op="and" if isinstance(op, ast.And) else "or", operands=operands, pos=pos)
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return Not(operand=self.convert(operand, depth + 1), pos=pos)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                inner = self.convert(operand, depth + 1)
                if isinstance(inner, Literal) and _is_number(inner.value):
                    # Fold `-5` into a literal so lists like [-1, 2] stay literal lists.
                    return Literal(value=self.check_int(node, -inner.value), pos=pos)
                return Neg(operand=inner, pos=pos)
            case ast.BinOp(op=op, left=left, right=right):
                symbol = _ARITH_OPS.get(type(op))
                if symbol is None:
                    raise self.refuse(
                        node, _REFUSED_OPS.get(type(op), f"operator `{type(op).__name__}` is not supported")
                    )
                return Arith(
                    op=symbol, left=self.convert(left, depth + 1), right=self.convert(right, depth + 1), pos=pos
                )
            case ast.Compare():
                return self.compare(node, depth)
            case ast.Call():
                return self.call(node, depth)
            case ast.Attribute():
                raise self.refuse(node, f"attribute access is not allowed (`{self.snippet(node)}`)")
            case ast.Subscript():
                raise self.refuse(node, f"subscripts are not allowed (`{self.snippet(node)}`)")
            case ast.UnaryOp(op=op):
                raise self.refuse(node, _REFUSED_OPS.get(type(op), f"operator `{type(op).__name__}` is not supported"))
        raise self.refuse(node, _REFUSED_NODES.get(type(node), f"`{type(node).__name__}` expressions are not allowed"))

    def constant(self, node: ast.Constant) -> Value:
        """The value of a constant node, or a RuleError for constants the language has no type for."""
        value = node.value
        if value is None:
            raise self.refuse(node, "`None` is not a value; use is_missing(x) to test for a missing value")
        if isinstance(value, bool | str | float):
            return value
        if isinstance(value, int):
            return self.check_int(node, value)
        if isinstance(value, bytes):
            raise self.refuse(node, "bytes literals are not allowed")
        raise self.refuse(node, f"unsupported literal `{self.snippet(node)}`")

    def check_int(self, node: ast.AST, value: int | float) -> int | float:
        """Refuse integer literals outside int64, where Polars cannot follow."""
        if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
            raise self.refuse(node, "integer literal is out of range (64-bit)")
        return value

    def compare(self, node: ast.Compare, depth: int) -> Node:
        """A single comparison or (not) in; chained comparisons are refused."""
        if len(node.ops) > 1:
            raise self.refuse(node, "chained comparisons like `a < b < c` are not supported; write `a < b and b < c`")
        op, right = node.ops[0], node.comparators[0]
        left = self.convert(node.left, depth + 1)
        pos = self.column(node)
        if isinstance(op, ast.In | ast.NotIn):
            return InList(operand=left, values=self.values(right), negated=isinstance(op, ast.NotIn), pos=pos)
        symbol = _COMPARE_OPS.get(type(op))
        if symbol is None:
            raise self.refuse(node, _REFUSED_OPS.get(type(op), f"operator `{type(op).__name__}` is not supported"))
        return Compare(op=symbol, left=left, right=self.convert(right, depth + 1), pos=pos)

    def values(self, node: ast.expr) -> tuple[Value, ...]:
        """The literal list on the right of ``in``."""
        if not isinstance(node, ast.List):
            raise self.refuse(node, 'the right side of `in` must be a literal list like ["a", "b"]')
        if not node.elts:
            raise self.refuse(node, "the list of `in` must not be empty")
        if len(node.elts) > MAX_LIST_ITEMS:
            raise self.refuse(
                node, f"the list of `in` is too long ({len(node.elts)} values; the limit is {MAX_LIST_ITEMS})"
            )
        values: list[Value] = []
        for item in node.elts:
            converted = self.convert(item, 0) if _is_literal_syntax(item) else None
            if not isinstance(converted, Literal):
                raise self.refuse(item, f"the list of `in` may only hold literals, got `{self.snippet(item)}`")
            values.append(converted.value)
        return tuple(values)

    def call(self, node: ast.Call, depth: int) -> Node:
        """A call to a function of the table, positional arguments only."""
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                raise self.refuse(node.func, f"attribute access is not allowed (`{self.snippet(node.func)}`)")
            raise self.refuse(node, "only named functions can be called")
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.refuse(node, f"unknown function `{name}`; known functions: {', '.join(FUNCTIONS)}")
        if node.keywords:
            raise self.refuse(node.keywords[0], f"keyword arguments are not allowed in `{name}(...)`")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.refuse(arg, f"`*` unpacking is not allowed in `{name}(...)`")
        args = tuple(self.convert(a, depth + 1) for a in node.args)
        return Call(name=name, args=args, pos=self.column(node))


def _is_number(value: Value) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_literal_syntax(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant)
    return isinstance(node, ast.Constant) or (isinstance(node, ast.Name) and node.id in _BOOL_NAMES)
