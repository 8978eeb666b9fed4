"""Type checking of the AST against a schema: every problem becomes a RuleError naming the field and the problem."""

from __future__ import annotations

from rules.errors import RuleError
from rules.functions import FUNCTIONS
from rules.nodes import Arith, BoolOp, Call, Compare, Field, InList, Literal, Neg, Node, Not, Value, describe
from rules.operators import COMPARISONS
from rules.types import NUMERIC, FieldType, Schema, numeric_result

Types = dict[int, FieldType]
"""Type of every node of one tree, keyed by ``id(node)`` (the tree keeps the nodes alive)."""


def check(node: Node, schema: Schema) -> FieldType:
    """The type of ``node`` under ``schema``; raises RuleError for unknown fields and type mismatches."""
    return _Checker(schema).visit(node)


def annotate(node: Node, schema: Schema) -> Types:
    """Check ``node`` and return the type of each of its nodes, for the compiler."""
    checker = _Checker(schema)
    checker.visit(node)
    return checker.types


def value_type(value: Value) -> FieldType:
    """The type of a literal value (bool before int: in Python a bool is an int)."""
    if isinstance(value, bool):
        return FieldType.BOOL
    if isinstance(value, int):
        return FieldType.INT
    if isinstance(value, float):
        return FieldType.FLOAT
    return FieldType.STR


def comparable(a: FieldType, b: FieldType) -> bool:
    """Whether two types can be compared: two numbers, or two values of the same type."""
    return (a in NUMERIC and b in NUMERIC) or a is b


def _at(node: Node) -> int | None:
    return node.pos or None


class _Checker:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.types: Types = {}

    def visit(self, node: Node) -> FieldType:
        found = self._type(node)
        self.types[id(node)] = found
        return found

    def _type(self, node: Node) -> FieldType:
        match node:
            case Literal(value=value):
                return value_type(value)
            case Field(name=name):
                field_type = self.schema.get(name)
                if field_type is None:
                    raise RuleError(f"unknown field `{name}`", _at(node))
                return field_type
            case Compare():
                return self._compare(node)
            case InList():
                return self._in_list(node)
            case BoolOp(op=op, operands=operands):
                for operand in operands:
                    self._condition(operand, f"`{op}` needs boolean operands")
                return FieldType.BOOL
            case Not(operand=operand):
                self._condition(operand, "`not` needs a boolean operand")
                return FieldType.BOOL
            case Arith(op=op, left=left, right=right):
                types = [self._number(left, f"`{op}` needs numbers"), self._number(right, f"`{op}` needs numbers")]
                return FieldType.FLOAT if op == "/" else numeric_result(*types)
            case Neg(operand=operand):
                return self._number(operand, "unary `-` needs a number")
            case Call():
                return self._call(node)

    def _condition(self, node: Node, what: str) -> None:
        found = self.visit(node)
        if found is not FieldType.BOOL:
            raise RuleError(f"{what}, got {describe(node)} ({found.value})", _at(node))

    def _number(self, node: Node, what: str) -> FieldType:
        found = self.visit(node)
        if found not in NUMERIC:
            raise RuleError(f"{what}, got {describe(node)} ({found.value})", _at(node))
        return found

    def _compare(self, node: Compare) -> FieldType:
        left, right = self.visit(node.left), self.visit(node.right)
        if not comparable(left, right):
            raise RuleError(
                f"cannot compare {describe(node.left)} ({left.value}) with {describe(node.right)} ({right.value})",
                _at(node),
            )
        if left is FieldType.BOOL and COMPARISONS[node.op].ordering:
            raise RuleError(f"cannot use `{node.op}` on booleans ({describe(node.left)}); use == or !=", _at(node))
        return FieldType.BOOL

    def _in_list(self, node: InList) -> FieldType:
        operand = self.visit(node.operand)
        kinds = {value_type(v) for v in node.values}
        if len(kinds) > 1 and not kinds <= NUMERIC:
            names = " and ".join(sorted(k.value for k in kinds))
            raise RuleError(f"the list of `in` mixes {names} values", _at(node))
        for value in node.values:
            if not comparable(operand, value_type(value)):
                raise RuleError(
                    f"cannot compare {describe(node.operand)} ({operand.value}) with "
                    f"{describe(Literal(value=value))} ({value_type(value).value})",
                    _at(node),
                )
        return FieldType.BOOL

    def _call(self, node: Call) -> FieldType:
        function = FUNCTIONS.get(node.name)
        if function is None:
            raise RuleError(f"unknown function `{node.name}`; known functions: {', '.join(FUNCTIONS)}", _at(node))
        if len(node.args) != function.arity:
            plural = "argument" if function.arity == 1 else "arguments"
            raise RuleError(
                f"`{node.name}` takes {function.arity} {plural}, got {len(node.args)} ({function.signature})",
                _at(node),
            )
        types = [self.visit(arg) for arg in node.args]
        return function.type_rule(node.args, types)
