"""Derived features: `rules` expressions over the event and fetched features, compiled once for rows and frames."""

from __future__ import annotations

from typing import Any

import polars as pl

from features.specs import FeatureSet, ValueType
from rules import CompiledExpr, FieldType, RuleError, compile_expr

_TYPES: dict[str, FieldType] = {
    "str": FieldType.STR,
    "int": FieldType.INT,
    "float": FieldType.FLOAT,
    "bool": FieldType.BOOL,
    "datetime": FieldType.DATETIME,
}


def schema_of(fs: FeatureSet) -> dict[str, FieldType]:
    """Types of every name an expression over `fs` may use: event fields, then fetched features."""
    schema = {name: _TYPES[t] for name, t in fs.event_fields.items()}
    for p in fs.profiles:
        for f in p.fields:
            schema[f.feature] = _TYPES[f.type]
    for v in fs.velocity:
        for w in v.windows:
            schema[w.count_feature] = FieldType.INT
            if w.sum_feature:
                schema[w.sum_feature] = FieldType.FLOAT
        for d in v.distinct:
            schema[d.feature] = FieldType.INT
        for r in v.delayed:
            schema[r.feature] = FieldType.FLOAT
    return schema


def value_type(t: FieldType) -> ValueType | None:
    """The feature value type of an expression type (None for datetimes, which are not model inputs)."""
    return {
        FieldType.STR: "str",
        FieldType.INT: "int",
        FieldType.FLOAT: "float",
        FieldType.BOOL: "bool",
    }.get(t)  # type: ignore[return-value]


class DerivedFeatures:
    """The derived specs of a feature set, compiled once; later ones may use earlier ones."""

    def __init__(self, fs: FeatureSet) -> None:
        schema = schema_of(fs)
        compiled: list[tuple[str, CompiledExpr]] = []
        for d in fs.derived:
            try:
                expr = compile_expr(d.expr, schema)
            except RuleError as e:
                raise ValueError(f"derived feature `{d.feature}`: {e}") from e
            schema[d.feature] = expr.type
            compiled.append((d.feature, expr))
        self.compiled = tuple(compiled)
        self.schema = schema

    def apply(self, values: dict[str, Any]) -> None:
        """Add the derived features to one event's values, in place."""
        for name, expr in self.compiled:
            values[name] = expr.row(values)

    def apply_frame(self, df: pl.DataFrame) -> pl.DataFrame:
        """The frame twin of `apply`."""
        for name, expr in self.compiled:
            df = df.with_columns(expr.expr.alias(name))
        return df
