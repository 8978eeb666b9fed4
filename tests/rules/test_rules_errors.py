"""Exact error texts and columns: analysts read these, the engine forwards them."""

from __future__ import annotations

import pytest

from rules import FUNCTIONS, MAX_SOURCE_CHARS, FieldType, Function, RuleError, check, compile_expr, parse

SCHEMA = {
    "amount": FieldType.FLOAT,
    "n": FieldType.INT,
    "mcc": FieldType.STR,
    "flag": FieldType.BOOL,
    "ts": FieldType.DATETIME,
}


def error_of(source: str, expect: FieldType | None = None) -> RuleError:
    with pytest.raises(RuleError) as info:
        compile_expr(source, SCHEMA, expect=expect)
    return info.value


@pytest.mark.parametrize(
    ("source", "problem", "column"),
    [
        ("amout > 5", "unknown field `amout`", 1),
        ("amount > 5 and  mccc == 'x'", "unknown field `mccc`", 17),
        ("mcc == 5", "cannot compare `mcc` (str) with 5 (int)", 1),
        ("mcc in [5, 6]", "cannot compare `mcc` (str) with 5 (int)", 1),
        ("mcc in ['a', 6]", "the list of `in` mixes int and str values", 1),
        ("flag < true", "cannot use `<` on booleans (`flag`); use == or !=", 1),
        ("amount and flag", "`and` needs boolean operands, got `amount` (float)", 1),
        ("not mcc", "`not` needs a boolean operand, got `mcc` (str)", 5),
        ("mcc + 1", "`+` needs numbers, got `mcc` (str)", 1),
        ("-mcc", "unary `-` needs a number, got `mcc` (str)", 2),
        ("abs(mcc)", "`abs` needs a number, got `mcc` (str)", 5),
        ("hour_of(amount)", "`hour_of` needs a datetime, got `amount` (float)", 9),
        ("startswith(mcc, 5)", "`startswith` needs strings, got 5 (int)", 17),
        ("coalesce(mcc, 1)", "`coalesce` needs two values of the same type, got `mcc` (str) and 1 (int)", 15),
        ("coalesce(n)", "`coalesce` takes 2 arguments, got 1 (coalesce(T, T) -> T)", 1),
        ("amount.real > 1", "attribute access is not allowed (`amount.real`)", 1),
        ("mcc.startswith('5')", "attribute access is not allowed (`mcc.startswith`)", 1),
        ("mcc[0] == '5'", "subscripts are not allowed (`mcc[0]`)", 1),
        (
            "__import__('os')",
            "unknown function `__import__`; known functions: abs, coalesce, day_of_week, hour_of, is_missing, "
            "lower, max, min, startswith",
            1,
        ),
        ("abs(x=1)", "keyword arguments are not allowed in `abs(...)`", 5),
        ("abs(*n)", "`*` unpacking is not allowed in `abs(...)`", 5),
        ("(lambda: 1)()", "only named functions can be called", 1),
        ("lambda: 1", "lambda is not allowed", 1),
        ("n ** 2", "`**` is not allowed", 1),
        ("n % 2", "`%` is not supported", 1),
        ("[x for x in n]", "comprehensions are not allowed", 1),
        ("f'{mcc}' == 'a'", "f-strings are not allowed", 1),
        ("(n := 1)", "assignment (`:=`) is not allowed", 2),
        ("1 if flag else 2", "conditional expressions (`x if c else y`) are not supported", 1),
        ("mcc in {'a'}", 'the right side of `in` must be a literal list like ["a", "b"]', 8),
        ("mcc in ('a', 'b')", 'the right side of `in` must be a literal list like ["a", "b"]', 8),
        ("mcc in []", "the list of `in` must not be empty", 8),
        ("n in [1, n]", "the list of `in` may only hold literals, got `n`", 10),
        ("(1, 2)", "tuples are not allowed", 1),
        ("{'a': 1}", "dicts are not allowed", 1),
        ("[1, 2]", "lists are only allowed on the right of `in` / `not in`", 1),
        ("b'x' == mcc", "bytes literals are not allowed", 1),
        ("amount == null", "`null` is not a value; use is_missing(x) to test for a missing value", 11),
        ("amount is None", "`is` is not supported; use is_missing(x)", 1),
        ("1 < n < 5", "chained comparisons like `a < b < c` are not supported; write `a < b and b < c`", 1),
        ("n == 99999999999999999999", "integer literal is out of range (64-bit)", 6),
        ("amount >", "syntax error: invalid syntax", 1),
        ("amount > (", "syntax error: '(' was never closed", 10),
        ("   ", "expression is empty", None),
        ("  amount ~ 1", "syntax error: invalid syntax", 10),
        ("~flag", "`~` is not supported; use `not`", 1),
        ("n // 2", "`//` is not supported; use `/`", 1),
    ],
)
def test_refused_with_exact_text_and_column(source: str, problem: str, column: int | None) -> None:
    error = error_of(source)
    assert (error.problem, error.column) == (problem, column)
    assert str(error) == problem


def test_expect_bool_refuses_a_number() -> None:
    error = error_of("amount / 2", expect=FieldType.BOOL)
    assert (str(error), error.column) == ("condition must be boolean, got float", None)


def test_expect_other_type() -> None:
    assert str(error_of("mcc", expect=FieldType.FLOAT)) == "expression must be float, got str"


def test_expect_float_widens_int() -> None:
    compiled = compile_expr("n * 2", SCHEMA, expect=FieldType.FLOAT)
    assert compiled.type is FieldType.FLOAT
    assert compiled.row({"n": 3}) == 6.0
    assert isinstance(compiled.row({"n": 3}), float)


def test_too_long_source() -> None:
    source = "n + " * 1100 + "1"
    error = error_of(source)
    assert str(error) == f"expression is too long ({len(source)} characters; the limit is {MAX_SOURCE_CHARS})"


def test_too_deep() -> None:
    assert str(error_of("-(" * 70 + "n" + ")" * 70)) == "expression is nested too deeply (the limit is 64 levels)"


def test_too_many_list_items() -> None:
    assert str(error_of(f"n in [{', '.join('1' * 1001)}]")) == (
        "the list of `in` is too long (1001 values; the limit is 1000)"
    )


def test_columns_count_characters_not_bytes() -> None:
    error = error_of("mcc == 'ééé' and amout > 1")
    assert error.column == 18


def test_columns_on_later_lines() -> None:
    error = error_of("(amount > 1 and\n  amout > 2)")
    assert error.column == 19


def test_check_returns_the_type_and_names_unknown_fields() -> None:
    assert check(parse("amount / n"), SCHEMA) is FieldType.FLOAT
    assert check(parse("n * 2"), SCHEMA) is FieldType.INT
    assert check(parse("min(n, 2.5)"), SCHEMA) is FieldType.FLOAT
    with pytest.raises(RuleError, match=r"^unknown field `x`$"):
        check(parse("x"), SCHEMA)


def test_registering_a_function_twice_raises() -> None:
    existing = FUNCTIONS["abs"]
    with pytest.raises(RuleError, match=r"^function `abs` is already registered$"):
        FUNCTIONS.register("abs", Function("abs", 1, existing.signature, existing.type_rule, existing.build))


def test_python_warnings_do_not_leak() -> None:
    # `1 is 1` and invalid escapes make CPython warn while compiling; both must still come out as RuleError.
    assert str(error_of("1 is 1")) == "`is` is not supported; use is_missing(x)"
    assert compile_expr(r"mcc == '\d'", SCHEMA).row({"mcc": "\\d"}) is True
