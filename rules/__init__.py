"""The rule language: parse an expression, check it against a schema, compile it to a row closure and a Polars
expression that agree. See README.md for the language."""

from rules.compile import CompiledExpr, compile_expr
from rules.errors import RuleError
from rules.functions import FUNCTIONS, Function
from rules.nodes import Arith, BoolOp, Call, Compare, Field, InList, Literal, Neg, Node, Not
from rules.parser import MAX_DEPTH, MAX_LIST_ITEMS, MAX_SOURCE_CHARS, parse
from rules.typecheck import check
from rules.types import FieldType, Schema

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LIST_ITEMS",
    "MAX_SOURCE_CHARS",
    "Arith",
    "BoolOp",
    "Call",
    "Compare",
    "CompiledExpr",
    "Field",
    "FieldType",
    "Function",
    "InList",
    "Literal",
    "Neg",
    "Node",
    "Not",
    "RuleError",
    "Schema",
    "check",
    "compile_expr",
    "parse",
]
