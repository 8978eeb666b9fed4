"""One deadline per request, created at the edge from the SLA budget, and the stage timings measured against it."""

from __future__ import annotations

import time


class Deadline:
    """The instant by which a decision must be out, and what each stage took."""

    __slots__ = ("_marks", "at", "budget_ms", "start")

    def __init__(self, budget_ms: float, start: float | None = None) -> None:
        self.start = time.monotonic() if start is None else start
        self.budget_ms = budget_ms
        self.at = self.start + budget_ms / 1000
        self._marks: list[tuple[str, float]] = []

    def remaining_s(self) -> float:
        """Seconds left; negative once the budget is spent."""
        return self.at - time.monotonic()

    def expired(self) -> bool:
        """True once the budget is spent."""
        return time.monotonic() >= self.at

    def mark(self, stage: str) -> None:
        """Record that `stage` ended now; its duration runs from the previous mark (or the start)."""
        self._marks.append((stage, time.monotonic()))

    def timings_ms(self) -> dict[str, float]:
        """Stage name to milliseconds, in order, plus `total`."""
        out: dict[str, float] = {}
        prev = self.start
        for stage, t in self._marks:
            out[stage] = out.get(stage, 0.0) + (t - prev) * 1000
            prev = t
        out["total"] = (time.monotonic() - self.start) * 1000
        return out

    def server_timing(self) -> str:
        """The `Server-Timing` header value."""
        return ", ".join(f"{k};dur={v:.3f}" for k, v in self.timings_ms().items())
