"""The one exception of the rule language."""

from __future__ import annotations


class RuleError(Exception):
    """Any problem with an expression: syntax, refused construct, unknown name, type mismatch.

    ``problem`` is the human message (also ``str(error)``); ``column`` is the 1-based character offset in the
    source where the problem starts, or ``None`` when it concerns the whole expression.
    """

    def __init__(self, problem: str, column: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        """What is wrong, in words an analyst can act on."""
        self.column = column
        """1-based character offset in the source, or None when the problem is not tied to one place."""

    def __str__(self) -> str:
        return self.problem

    def __repr__(self) -> str:
        return f"RuleError({self.problem!r}, column={self.column!r})"
