"""Provable implication between conditions, used to refuse rules that can never act.

``implies(a, b)`` is True only when it is *proved* that every row on which ``a`` is true also makes ``b`` true; False
means "not proved", never "proved not". What is provable, exactly:

* ``b`` is a tautology: the literal ``true``; ``X or not X`` (any ``X``, since every condition is a total boolean);
  an ``or`` with a tautological operand; an ``and`` of tautologies.
* ``a`` and ``b`` are the same expression (compared as rendered source, so spacing and parentheses do not matter).
* Structure: ``b = b1 and b2 ...`` when ``a`` implies every ``bi``; ``a = a1 or a2 ...`` when every ``ai`` implies
  ``b``; ``b = b1 or ...`` when ``a`` implies some ``bi``; ``a = a1 and ...`` when some ``ai`` implies ``b``.
* Atoms on the same bare field against literals: ``f < c``, ``<=``, ``>``, ``>=`` (numbers, also with the literal on
  the left), ``f == c``, ``f != c``, ``f in [..]``, ``f not in [..]``. Each is read as the set of values that make
  it true (all of them are false on a missing value), and ``a`` implies ``b`` when its set is inside ``b``'s:
  numeric ranges inside ranges, ``in`` lists that are subsets, a value or list outside a ``not in`` list or a
  ``!=`` value, and so on.

Anything else (arithmetic, function calls, two fields, ``not`` over an atom, string ranges) is never claimed.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.nodes import BoolOp, Compare, Field, InList, Literal, Node, Not, Value, render

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_EXACT = 2**53
"""Integer literals beyond this lose precision as floats; no claim is made about them."""


@dataclass(frozen=True)
class _Set:
    """Values of one field that make an atom true: a finite set, the complement of one, or a numeric interval."""

    field: str
    kind: str  # "in", "not_in" or "range"
    values: frozenset[Value] = frozenset()
    lo: float = float("-inf")
    lo_closed: bool = False
    hi: float = float("inf")
    hi_closed: bool = False

    def holds(self, v: Value) -> bool:
        """Whether the value ``v`` is in a range."""
        if not _number(v):
            return False
        x = float(v)
        above = x > self.lo or (self.lo_closed and x == self.lo)
        below = x < self.hi or (self.hi_closed and x == self.hi)
        return above and below


def is_tautology(node: Node) -> bool:
    """Whether ``node`` is provably true on every row (see the module docstring)."""
    match node:
        case Literal(value=True):
            return True
        case BoolOp(op="and", operands=operands):
            return all(is_tautology(o) for o in operands)
        case BoolOp(op="or", operands=operands):
            if any(is_tautology(o) for o in operands):
                return True
            shown = {render(o) for o in operands}
            return any(isinstance(o, Not) and render(o.operand) in shown for o in operands)
    return False


def implies(a: Node, b: Node) -> bool:
    """Whether ``a`` true provably makes ``b`` true (False: not proved)."""
    if is_tautology(b) or render(a) == render(b):
        return True
    if isinstance(b, BoolOp) and b.op == "and":
        return all(implies(a, o) for o in b.operands)
    if isinstance(a, BoolOp) and a.op == "or":
        return all(implies(o, b) for o in a.operands)
    if isinstance(b, BoolOp) and b.op == "or" and any(implies(a, o) for o in b.operands):
        return True
    if isinstance(a, BoolOp) and a.op == "and" and any(implies(o, b) for o in a.operands):
        return True
    sa, sb = _atom(a), _atom(b)
    return sa is not None and sb is not None and sa.field == sb.field and _subset(sa, sb)


def _number(v: Value) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < _EXACT and v == v


def _atom(node: Node) -> _Set | None:
    match node:
        case InList(operand=Field(name=name), values=values, negated=negated):
            return _Set(name, "not_in" if negated else "in", frozenset(values))
        case Compare(op=op, left=Field(name=name), right=Literal(value=value)):
            return _compare(name, op, value)
        case Compare(op=op, left=Literal(value=value), right=Field(name=name)):
            return _compare(name, _FLIP[op], value)
    return None


def _compare(name: str, op: str, value: Value) -> _Set | None:
    if op == "==":
        return _Set(name, "in", frozenset([value]))
    if op == "!=":
        return _Set(name, "not_in", frozenset([value]))
    if not _number(value):
        return None
    x = float(value)
    if op in ("<", "<="):
        return _Set(name, "range", hi=x, hi_closed=op == "<=")
    return _Set(name, "range", lo=x, lo_closed=op == ">=")


def _subset(a: _Set, b: _Set) -> bool:
    if a.kind == "in":
        if b.kind == "in":
            return a.values <= b.values
        if b.kind == "not_in":
            return not (a.values & b.values)
        return all(b.holds(v) for v in a.values)
    if a.kind == "not_in":
        return b.kind == "not_in" and b.values <= a.values
    if b.kind == "range":
        lo_ok = a.lo > b.lo or (a.lo == b.lo and (b.lo_closed or not a.lo_closed))
        hi_ok = a.hi < b.hi or (a.hi == b.hi and (b.hi_closed or not a.hi_closed))
        return lo_ok and hi_ok
    if b.kind == "not_in":
        return not any(a.holds(v) for v in b.values)
    return False
