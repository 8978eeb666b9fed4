"""Field types and schemas: what an expression may refer to."""

from __future__ import annotations

import enum
from collections.abc import Mapping


class FieldType(enum.Enum):
    """The type of a field or of an expression. INT and FLOAT are both numeric and mix freely."""

    STR = "str"
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    DATETIME = "datetime"


Schema = Mapping[str, FieldType]
"""Field name to type: the names an expression may refer to."""

NUMERIC = frozenset({FieldType.INT, FieldType.FLOAT})
"""The types arithmetic accepts."""


def numeric_result(*types: FieldType) -> FieldType:
    """The type of mixing numbers: INT only when every operand is INT."""
    return FieldType.INT if all(t is FieldType.INT for t in types) else FieldType.FLOAT
