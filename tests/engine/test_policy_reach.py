"""Rules that can never act are refused; the file's `version:`; analysts' cases; a candidate policy's verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.context import event_schema
from engine.errors import ConfigError
from engine.policy import WouldDecide, parse_policy

HEAD = "event_type: card_payment\nsla_ms: 50\npre_policies:\n"
TAIL = """decision:
  thresholds:
    - {name: risky, when: "ecdf >= 0.99", action: deny}
    - {name: rest, action: approve}
  fallback: {action: review}
"""


def _rules(*rules: tuple[str, str, str]) -> str:
    body = "".join(f"  - name: {n}\n    when: '{w}'\n    action: deny\n{extra}" for n, w, extra in rules)
    return HEAD + body + TAIL


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("true", 'country == "BR"'),
        ('country == "BR"', 'country  ==  "BR"'),
        ("amount > 100", "amount > 1000"),
        ('country in ["KP", "IR"]', 'country == "KP" and amount > 5'),
    ],
)
def test_a_rule_hidden_by_an_earlier_live_rule_is_refused(first: str, second: str) -> None:
    text = _rules(("first", first, ""), ("second", second, ""))
    with pytest.raises(ConfigError) as e:
        parse_policy(text, event_schema(), filename="p.yaml")
    assert e.value.detail.startswith(
        "p.yaml:7: second: can never act: the earlier rule `first` (line 4) matches every event this one matches"
    ), e.value.detail


def test_shadow_rules_hide_nothing_but_are_hidden_by_live_ones() -> None:
    parse_policy(_rules(("watch", "amount > 100", "    mode: shadow\n"), ("act", "amount > 1000", "")), event_schema())
    text = _rules(("act", "amount > 100", ""), ("watch", "amount > 1000", "    mode: shadow\n"))
    with pytest.raises(ConfigError, match=r"p\.yaml:7: watch: can never act: the earlier rule `act`"):
        parse_policy(text, event_schema(), filename="p.yaml")


def test_overlapping_but_not_implied_rules_load() -> None:
    parse_policy(
        _rules(("big", "amount > 1000", ""), ("bigger_abroad", 'amount > 100 and country != "BR"', "")),
        {**event_schema()},
    )


def test_a_threshold_row_hidden_by_an_earlier_one_is_refused() -> None:
    text = _rules(("a", "amount > 1", "")).replace(
        '"ecdf >= 0.99", action: deny}',
        '"ecdf >= 0.9", action: deny}\n    - {name: top, when: "ecdf >= 0.99", action: deny}',
    )
    with pytest.raises(ConfigError, match=r"p.yaml:10: top: can never act: the earlier rule `risky` \(line 9\)"):
        parse_policy(text, event_schema(), filename="p.yaml")


def test_version_is_the_files_label_plus_the_content_digest() -> None:
    plain = parse_policy(_rules(("a", "amount > 1", "")), event_schema())
    assert len(plain.version) == 12 and "+" not in plain.version
    labelled = parse_policy("version: 2026.11.1\n" + _rules(("a", "amount > 1", "")), event_schema())
    label, digest = labelled.version.split("+")
    assert label == "2026.11.1" and len(digest) == 12 and digest != plain.version
    with pytest.raises(ConfigError, match=r"p\.yaml:1: \(file\): Expected `str` matching regex"):
        parse_policy("version: 'a b'\n" + _rules(("a", "amount > 1", "")), event_schema(), filename="p.yaml")


def test_would_decide_a_candidate_policy_without_acting() -> None:
    text = _rules(("big", "amount > 1000", ""), ("watch", "amount > 10", "    mode: shadow\n"))
    candidate = parse_policy(text.replace("- name: watch", "- name: watch").replace("big", "zbig"), event_schema())
    assert candidate.would_decide({"amount": 5000.0}) == WouldDecide("deny", "zbig", "pre_policy", ())
    assert candidate.would_decide({"amount": 50.0}) == WouldDecide(None, None, "model", ("watch",))
    assert candidate.would_decide({"amount": 50.0}, {"score": 0.1, "calibrated": 0.2, "ecdf": 0.995}) == WouldDecide(
        "deny", "risky", "model", ("watch",)
    )
    assert candidate.would_decide({}, {"score": None, "calibrated": None, "ecdf": None}).rule == "rest"


def test_cases_table_with_shadow_expectations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        _rules(("big", "amount > 1000", ""), ("watch", "amount > 10", "    mode: shadow\n"))
        + "tests:\n"
        + "  - {event: {amount: 50}, expect: {rule: null, shadow: [watch]}}\n"
        + "  - {event: {amount: 5000}, expect: {action: deny, rule: big, shadow: []}}\n"
        + "  - {event: {amount: 50, ecdf: 0.5}, expect: {action: approve, rule: rest}}\n"
        + "  - {event: {amount: 50}, expect: {shadow: []}}\n"
    )
    assert main(["policies", "test", str(policy)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["case", "event", "expected", "got", "result"]
    assert [line.split()[-1] for line in out[2:6]] == ["PASS", "PASS", "PASS", "FAIL"]
    assert out[5].split() == ["4", "amount=50", "shadow=[]", 'shadow=["watch"]', "FAIL"]
    assert out[-1] == f"{policy}: 3 passed, 1 failed"


def test_an_unknown_expectation_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(_rules(("a", "amount > 1", "")) + "tests:\n  - {event: {}, expect: {rul: a}}\n")
    assert main(["policies", "check", str(policy)]) == 1
    assert "Object contains unknown field `rul`" in capsys.readouterr().out
