"""`fraudgate policies check|test`: load policy files, and run the analysts' own test cases."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.context import event_schema
from engine.errors import ConfigError
from engine.policy import Policy, PolicyCase, load_policy


def run_case(policy: Policy, case: PolicyCase) -> str | None:
    """None when the case passes, else what differed."""
    rule, _ = policy.pre_policy(case.event)
    got: dict[str, Any] = {"rule": rule.name if rule else None, "action": rule.action if rule else None}
    wrong = [f"{k}: expected {v!r}, got {got.get(k)!r}" for k, v in case.expect.items() if got.get(k) != v]
    return "; ".join(wrong) or None


def check_files(files: Sequence[Path]) -> int:
    """Load each file; print `ok` or the refusal; exit 1 when any is refused."""
    status = 0
    for f in files:
        try:
            p = load_policy(f, event_schema())
            print(f"{f}: ok (version {p.version}, {len(p.pre_policies)} pre-policies, {len(p.thresholds)} thresholds)")
        except ConfigError as e:
            print(e.detail)
            status = 1
    return status


def test_files(files: Sequence[Path]) -> int:
    """Run every file's test cases; exit 1 on any failure or refused file."""
    status = 0
    for f in files:
        try:
            policy = load_policy(f, event_schema())
        except ConfigError as e:
            print(e.detail)
            status = 1
            continue
        failed = 0
        for n, case in enumerate(policy.source.tests, start=1):
            problem = run_case(policy, case)
            if problem:
                failed += 1
                print(f"{f}: case {n} FAILED: {problem} (event {case.event})")
        print(f"{f}: {len(policy.source.tests) - failed} passed, {failed} failed")
        status = status or int(failed > 0)
    return status
