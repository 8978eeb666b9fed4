"""`fraudgate policies check|test`: load policy files, and run the analysts' own test cases as a pass/fail table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from engine.context import event_schema
from engine.errors import ConfigError
from engine.policy import MODEL_FIELDS, CaseExpect, Policy, PolicyCase, load_policy

_SUMMARY_CHARS = 60


def outcome(policy: Policy, event: dict[str, Any]) -> dict[str, Any]:
    """What the policy does with `event`: `action`, `rule` and the `shadow` rules that matched.

    No acting pre-policy: the threshold table decides when the event carries a model field, else action and rule are
    null (the model would decide).
    """
    rule, shadow = policy.pre_policy(event)
    if rule is not None:
        return {"action": rule.action, "rule": rule.name, "shadow": shadow}
    if any(event.get(f) is not None for f in MODEL_FIELDS):
        action, name = policy.threshold(event)
        return {"action": action, "rule": name, "shadow": shadow}
    return {"action": None, "rule": None, "shadow": shadow}


def expected(expect: CaseExpect) -> dict[str, Any]:
    """The keys the case sets (an unset key is not compared)."""
    return {k: v for k, v in msgspec.structs.asdict(expect).items() if v is not msgspec.UNSET}


def run_case(policy: Policy, case: PolicyCase) -> str | None:
    """None when the case passes, else what differed."""
    got = outcome(policy, case.event)
    wrong = [f"{k}: expected {v!r}, got {got[k]!r}" for k, v in expected(case.expect).items() if got[k] != v]
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
    """Run every file's test cases, printing one table per file; exit 1 on any failure or refused file."""
    status = 0
    for f in files:
        try:
            policy = load_policy(f, event_schema())
        except ConfigError as e:
            print(e.detail)
            status = 1
            continue
        rows = [("case", "event", "expected", "got", "result")]
        failed = 0
        for n, case in enumerate(policy.source.tests, start=1):
            want = expected(case.expect)
            got = outcome(policy, case.event)
            ok = all(got[k] == v for k, v in want.items())
            failed += not ok
            rows.append((str(n), _short(case.event), _render(want), _render({k: got[k] for k in want}), _verdict(ok)))
        print(f"{f} (version {policy.version})")
        print(_table(rows))
        print(f"{f}: {len(policy.source.tests) - failed} passed, {failed} failed")
        status = status or int(failed > 0)
    return status


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _render(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in values.items())


def _short(event: dict[str, Any]) -> str:
    text = " ".join(f"{k}={v}" for k, v in event.items())
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1] + "…"


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
