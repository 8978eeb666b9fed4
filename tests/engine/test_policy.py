"""Policy files: loaded, checked, compiled once; a broken file is refused whole with `file:line: rule: problem`."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.context import event_schema
from engine.errors import ConfigError
from engine.policy import parse_policy

SHIPPED = Path(__file__).resolve().parents[2] / "policies" / "card_payment.yaml"

GOOD = """\
event_type: card_payment
sla_ms: 50
pre_policies:
  - name: small
    when: amount < 5
    action: approve
  - name: watch
    when: amount > 100
    action: deny
    mode: shadow
decision:
  thresholds:
    - {when: "ecdf >= 0.99", action: deny}
    - {action: approve}
  fallback: {action: review}
"""


def test_first_live_match_wins_and_shadow_rules_never_act() -> None:
    policy = parse_policy(GOOD, event_schema())
    rule, shadow = policy.pre_policy({"amount": 500.0})
    assert rule is None and shadow == ["watch"]
    rule, shadow = policy.pre_policy({"amount": 1.0})
    assert rule is not None and (rule.name, rule.action) == ("small", "approve") and shadow == []
    assert policy.threshold({"ecdf": 0.995}) == ("deny", "threshold_1")
    assert policy.threshold({"ecdf": None}) == ("approve", "threshold_2")  # missing never matches a comparison


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("amount < 5", "amout < 5"), "policy.yaml:4: small: unknown field `amout`"),
        (("name: watch", "name: small"), "policy.yaml:7: small: duplicate rule name"),
        (("amount < 5", "amount + 5"), "policy.yaml:4: small: condition must be boolean, got float"),
        (("    - {action: approve}\n", ""), "policy.yaml:13: decision.thresholds: the table must end with a catch-all"),
        (("action: approve\n  - name: watch", "action: allow\n  - name: watch"), "policy.yaml:4: (file): Invalid enum"),
    ],
)
def test_broken_files_are_refused_with_file_line_rule(edit: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_policy(GOOD.replace(*edit, 1), event_schema(), filename="policy.yaml")
    assert e.value.detail.startswith(message), e.value.detail


def test_cli_check_and_test(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policies", "check", str(SHIPPED)]) == 0
    assert main(["policies", "test", str(SHIPPED)]) == 0
    assert "10 passed, 0 failed" in capsys.readouterr().out
    broken = tmp_path / "broken.yaml"
    broken.write_text(GOOD.replace("amount > 100", "__import__('os')"))
    assert main(["policies", "check", str(broken)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{broken}:7: watch: ")
    failing = tmp_path / "failing.yaml"
    failing.write_text(GOOD + "tests:\n  - {event: {amount: 1}, expect: {action: deny}}\n")
    assert main(["policies", "test", str(failing)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[2].split() == ["1", "amount=1", 'action="deny"', 'action="approve"', "FAIL"]
    assert out.splitlines()[-1] == f"{failing}: 0 passed, 1 failed"
