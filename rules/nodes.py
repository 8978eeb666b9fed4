"""The typed AST of the rule language: data only, kept apart from its evaluation (checker, compiler).

Every node is a frozen msgspec Struct tagged by ``kind``, so a parsed expression can be stored, compared and
encoded like any other schema. ``pos`` is the 1-based character offset of the node in its source (0 when the node
was built by hand) and only feeds error messages.
"""

from __future__ import annotations

import json
import typing

import msgspec

Value = str | int | float | bool
"""A literal value. ``bool`` is listed on purpose: it is a distinct type in the language, not a number."""

CompareOp = typing.Literal["<", "<=", ">", ">=", "==", "!="]
ArithOp = typing.Literal["+", "-", "*", "/"]
BoolOpName = typing.Literal["and", "or"]


class _Node(msgspec.Struct, frozen=True, tag=True, tag_field="kind", kw_only=True, forbid_unknown_fields=True):
    pos: int = 0
    """1-based character offset of the node in the source; 0 when unknown."""


class Literal(_Node, frozen=True):
    """A constant: string, integer, float or boolean. There is no null literal (use ``is_missing``)."""

    value: Value
    """The constant itself."""


class Field(_Node, frozen=True):
    """A reference to a field of the row, by name."""

    name: str
    """The field name; must be in the schema."""


class Compare(_Node, frozen=True):
    """A binary comparison; false when either side is missing."""

    op: CompareOp
    """The comparison operator."""
    left: Node
    """Left operand."""
    right: Node
    """Right operand."""


class InList(_Node, frozen=True):
    """``operand in [v1, v2, ...]`` (or ``not in``) over a literal list; false when the operand is missing."""

    operand: Node
    """The value looked up."""
    values: tuple[Value, ...]
    """The literal list, in source order."""
    negated: bool = False
    """True for ``not in``."""


class BoolOp(_Node, frozen=True):
    """``and`` / ``or`` over two or more boolean operands."""

    op: BoolOpName
    """Which connective."""
    operands: tuple[Node, ...]
    """The operands, in source order."""


class Not(_Node, frozen=True):
    """Boolean negation."""

    operand: Node
    """The negated condition."""


class Arith(_Node, frozen=True):
    """Binary arithmetic on numbers; missing in, missing out; division by zero gives missing."""

    op: ArithOp
    """The arithmetic operator."""
    left: Node
    """Left operand."""
    right: Node
    """Right operand."""


class Neg(_Node, frozen=True):
    """Unary minus on a number (a minus on a numeric literal is folded into the literal by the parser)."""

    operand: Node
    """The negated number."""


class Call(_Node, frozen=True):
    """A call to a function of the function table, with positional arguments only."""

    name: str
    """The function name."""
    args: tuple[Node, ...]
    """The arguments, in order."""


Node = Literal | Field | Compare | InList | BoolOp | Not | Arith | Neg | Call
"""Any expression node."""


def render_value(value: Value) -> str:
    """A literal as the language writes it: ``true``, ``5``, ``"5411"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def render(node: Node) -> str:
    """Source text for a node (compound operands in parentheses); used in error messages."""
    match node:
        case Literal(value=value):
            return render_value(value)
        case Field(name=name):
            return name
        case Compare(op=op, left=left, right=right) | Arith(op=op, left=left, right=right):
            return f"{_operand(left)} {op} {_operand(right)}"
        case InList(operand=operand, values=values, negated=negated):
            listed = ", ".join(render_value(v) for v in values)
            return f"{_operand(operand)} {'not in' if negated else 'in'} [{listed}]"
        case BoolOp(op=op, operands=operands):
            return f" {op} ".join(_operand(o) for o in operands)
        case Not(operand=operand):
            return f"not {_operand(operand)}"
        case Neg(operand=operand):
            return f"-{_operand(operand)}"
        case Call(name=name, args=args):
            return f"{name}({', '.join(render(a) for a in args)})"


def _operand(node: Node) -> str:
    atomic = isinstance(node, Literal | Field | Call)
    return render(node) if atomic else f"({render(node)})"


def describe(node: Node) -> str:
    """How error messages name a node: literals bare (``5``, ``"x"``), anything else in backticks."""
    return render(node) if isinstance(node, Literal) else f"`{render(node)}`"
