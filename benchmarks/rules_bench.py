"""The rule-language benchmark of docs/benchmarks/rules.md: a 50-rule pre-policy in row mode (mean and p99 µs per
event) and in Polars batch mode (events/s), beside the same rules written for `common-expression-language` (CEL)
and run in the same process on the same events, as a ratio.

    .venv/bin/python benchmarks/rules_bench.py [--events 100000] [--cel-events 20000] [--seed 7]

CEL is not a dependency of fraudgate; install it outside the project's lock file to get the comparison, e.g.

    uv pip install --python .venv/bin/python --target /tmp/celpkg common-expression-language
    PYTHONPATH=/tmp/celpkg .venv/bin/python benchmarks/rules_bench.py

(`uv pip install common-expression-language` into .venv works too). Without it the comparison is skipped with a
message. Every engine evaluates the rules in order and stops at the first live match, as the pipeline does, and
the three give the same verdict on every event (checked before timing).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from engine.context import event_schema  # noqa: E402
from engine.policy import Policy, parse_policy  # noqa: E402
from loadtest.synthetic import SyntheticConfig, generate  # noqa: E402

# (name, fraudgate condition, the same condition in CEL over the map `ev`, action). Most rules are rare on
# synthetic traffic, as real pre-policies are: the typical event runs through all 50 conditions.
_BANDS = [(10_000, 20_000), (20_000, 50_000), (50_000, 100_000), (100_000, 1_000_000)]
RULES: list[tuple[str, str, str, str]] = [
    ("sanctioned_country", 'country in ["KP", "IR", "SY", "CU"]', 'ev.country in ["KP", "IR", "SY", "CU"]', "deny"),
    ("huge_amount", "amount > 1000000", "ev.amount > 1000000.0", "deny"),
    (
        "atm_abroad_night",
        'channel == "atm" and country != "BR" and hour_of(occurred_at) < 5',
        'ev.channel == "atm" && ev.country != "BR" && ev.occurred_at.getHours() < 5',
        "review",
    ),
    (
        "ecom_no_device",
        'channel == "ecommerce" and is_missing(device_id) and amount > 500',
        'ev.channel == "ecommerce" && !has(ev.device_id) && ev.amount > 500.0',
        "review",
    ),
    (
        "private_ip_ecom",
        'channel == "ecommerce" and (startswith(ip, "10.") or startswith(ip, "192.168."))',
        'ev.channel == "ecommerce" && has(ev.ip) && (ev.ip.startsWith("10.") || ev.ip.startsWith("192.168."))',
        "review",
    ),
    (
        "round_thousand",
        "abs(amount - 1000) < 0.005 or abs(amount - 5000) < 0.005",
        "(ev.amount - 1000.0 < 0.005 && ev.amount - 1000.0 > -0.005)"
        " || (ev.amount - 5000.0 < 0.005 && ev.amount - 5000.0 > -0.005)",
        "review",
    ),
    (
        "foreign_currency_home",
        'country == "BR" and currency != "BRL"',
        'ev.country == "BR" && ev.currency != "BRL"',
        "review",
    ),
    (
        "weekend_moto_large",
        'channel == "moto" and day_of_week(occurred_at) >= 5 and amount > 3000',
        # CEL counts Sunday = 0; ours Monday = 0: Saturday and Sunday either way.
        'ev.channel == "moto" && (ev.occurred_at.getDayOfWeek() == 6 || ev.occurred_at.getDayOfWeek() == 0)'
        " && ev.amount > 3000.0",
        "review",
    ),
    (
        "gambling_foreign",
        'mcc in ["7995", "7801", "7802"] and country != "BR"',
        'ev.mcc in ["7995", "7801", "7802"] && ev.country != "BR"',
        "deny",
    ),
    (
        "crypto_large",
        'mcc == "6051" and amount * 1.1 > 2000',
        'ev.mcc == "6051" && ev.amount * 1.1 > 2000.0',
        "review",
    ),
    (
        "wire_like",
        'mcc in ["4829", "6540"] and max(amount, 0) > 1500',
        'ev.mcc in ["4829", "6540"] && ev.amount > 1500.0',
        "review",
    ),
    (
        "jewelry_ecom",
        'mcc == "5944" and channel == "ecommerce" and amount > 2500',
        'ev.mcc == "5944" && ev.channel == "ecommerce" && ev.amount > 2500.0',
        "review",
    ),
    (
        "electronics_abroad",
        'mcc in ["5732", "5734"] and country not in ["BR", "AR", "CL"] and amount > 4000',
        'ev.mcc in ["5732", "5734"] && !(ev.country in ["BR", "AR", "CL"]) && ev.amount > 4000.0',
        "review",
    ),
    (
        "tiny_ecom_probe",
        'channel == "ecommerce" and amount < 1 and not startswith(mcc, "54")',
        'ev.channel == "ecommerce" && ev.amount < 1.0 && !ev.mcc.startsWith("54")',
        "review",
    ),
    (
        "atm_large",
        'channel == "atm" and amount > 3000',
        'ev.channel == "atm" && ev.amount > 3000.0',
        "review",
    ),
    (
        "missing_ip_ecom",
        'channel == "ecommerce" and is_missing(ip) and amount > 1000',
        'ev.channel == "ecommerce" && !has(ev.ip) && ev.amount > 1000.0',
        "review",
    ),
    (
        "fuel_night_large",
        'mcc == "5541" and hour_of(occurred_at) >= 2 and hour_of(occurred_at) < 5 and amount > 600',
        'ev.mcc == "5541" && ev.occurred_at.getHours() >= 2 && ev.occurred_at.getHours() < 5 && ev.amount > 600.0',
        "review",
    ),
    (
        "usd_high_ratio",
        'currency == "USD" and amount / coalesce(amount, 1.0) * amount > 7000',
        'ev.currency == "USD" && ev.amount / ev.amount * ev.amount > 7000.0',
        "review",
    ),
]
RULES += [
    (
        "moto_no_device_large",
        'channel == "moto" and is_missing(device_id) and amount > 2000',
        'ev.channel == "moto" && !has(ev.device_id) && ev.amount > 2000.0',
        "review",
    ),
    (
        "watchlist_merchant",
        'merchant_id in ["mer-999991", "mer-999992", "mer-999993"] or startswith(card_id, "card-x")',
        'ev.merchant_id in ["mer-999991", "mer-999992", "mer-999993"] || ev.card_id.startsWith("card-x")',
        "deny",
    ),
]
# Per-country amount caps and per-MCC amount bands: the long tail of a real policy.
for _country, _cap in [("AR", 6000), ("CL", 6500), ("US", 7000), ("CN", 5500), ("PT", 6000), ("ES", 6000)]:
    RULES.append(
        (
            f"cap_{_country.lower()}",
            f'country == "{_country}" and amount > {_cap} and channel != "pos"',
            f'ev.country == "{_country}" && ev.amount > {_cap}.0 && ev.channel != "pos"',
            "review",
        )
    )
for _mcc in ["5411", "5812", "5814", "5912", "5999", "4121", "5311", "5691", "6011", "4814", "5651", "5699"]:
    for _low, _high in _BANDS[:2] if _mcc < "5700" else _BANDS[2:4]:
        RULES.append(
            (
                f"band_{_mcc}_{_low}",
                f'mcc == "{_mcc}" and amount >= {_low} and amount < {_high}',
                f'ev.mcc == "{_mcc}" && ev.amount >= {_low}.0 && ev.amount < {_high}.0',
                "review",
            )
        )
RULES = RULES[:50]
assert len(RULES) == 50, len(RULES)


def policy_yaml(rules: list[tuple[str, str, str, str]]) -> str:
    """The rules as a policy file."""
    lines = ["event_type: card_payment", "sla_ms: 50", "pre_policies:"]
    for name, when, _, action in rules:
        lines += [f"  - name: {name}", f"    when: '{when}'", f"    action: {action}"]
    lines += ["decision:", "  thresholds:", "    - {action: approve}", "  fallback: {action: review}", ""]
    return "\n".join(lines)


def time_per_event(fn: Callable[[Any], object], rows: list[Any]) -> list[float]:
    """Nanoseconds of each call, timer included."""
    clock = time.perf_counter_ns
    out = [0.0] * len(rows)
    gc.disable()
    try:
        for i, row in enumerate(rows):
            t0 = clock()
            fn(row)
            out[i] = clock() - t0
    finally:
        gc.enable()
    return out


def summary(ns: list[float]) -> tuple[float, float]:
    """(mean, p99) in microseconds."""
    return statistics.fmean(ns) / 1000, statistics.quantiles(ns, n=100)[98] / 1000


def cel_runner(rules: list[tuple[str, str, str, str]]) -> Callable[[Mapping[str, Any]], str | None] | None:
    """First-match evaluation of the CEL versions of the rules, or None when CEL is not installed."""
    try:
        cel: Any = importlib.import_module("cel")
    except ImportError:
        return None
    programs = [(name, cel.compile(source)) for name, _, source, _ in rules]

    def run(context: Mapping[str, Any]) -> str | None:
        for name, program in programs:
            if program.execute(context):
                return name
        return None

    return run


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events for row and batch mode")
    parser.add_argument("--cel-events", type=int, default=20_000, help="events for CEL (slower)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    frame = generate(SyntheticConfig(n_events=args.events, seed=args.seed)).events
    rows = frame.to_dicts()
    policy: Policy = parse_policy(policy_yaml(RULES), event_schema(), filename="bench.yaml")
    assert len(policy.pre_policies) == 50

    def ours(row: Mapping[str, Any]) -> str | None:
        rule, _ = policy.pre_policy(row)
        return None if rule is None else rule.name

    names = [r.name for r in policy.pre_policies]
    decision = pl.lit(None, dtype=pl.String)
    for r in reversed(policy.pre_policies):
        decision = pl.when(r.predicate.expr).then(pl.lit(r.name)).otherwise(decision)
    batch_decision = decision.alias("rule")

    got_row = [ours(r) for r in rows]
    got_batch = frame.select(batch_decision)["rule"].to_list()
    assert got_row == got_batch, "row and batch disagree"
    matched = sum(g is not None for g in got_row)
    depth = statistics.fmean(names.index(g) + 1 if g else 50 for g in got_row)
    print(f"{len(rows):,} synthetic events, 50 rules; {matched:,} matched a rule; {depth:.1f} conditions per event")

    # Same run baseline: the timer around a call that does nothing.
    noop_mean, noop_p99 = summary(time_per_event(lambda _r: None, rows))
    ours(rows[0])
    row_ns = time_per_event(ours, rows)
    mean, p99 = summary(row_ns)
    print(f"timer + empty call (baseline):  mean {noop_mean:6.2f} µs   p99 {noop_p99:6.2f} µs")
    print(f"fraudgate row mode:             mean {mean:6.2f} µs   p99 {p99:6.2f} µs per event")

    frame.select(batch_decision)  # warm up
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        frame.select(batch_decision)
        runs.append(time.perf_counter() - t0)
    best = min(runs)
    print(f"fraudgate batch mode (Polars):  {len(rows) / best:,.0f} events/s ({best * 1000:.1f} ms per {len(rows):,})")

    cel = cel_runner(RULES)
    if cel is None:
        print(
            "CEL comparison skipped: module `cel` not importable. Install it outside the lock file, e.g.\n"
            "  uv pip install --python .venv/bin/python --target /tmp/celpkg common-expression-language\n"
            "  PYTHONPATH=/tmp/celpkg .venv/bin/python benchmarks/rules_bench.py"
        )
        return
    subset = rows[: args.cel_events]
    contexts = [{"ev": {k: v for k, v in r.items() if v is not None}} for r in subset]
    got_cel = [cel(c) for c in contexts]
    assert got_cel == got_row[: len(subset)], "CEL and fraudgate disagree"
    cel_mean, cel_p99 = summary(time_per_event(cel, contexts))
    sub_mean, sub_p99 = summary(time_per_event(ours, subset))
    print(f"CEL (common-expression-language) on the first {len(subset):,} events, same rules, same order:")
    print(f"  CEL row mode:                 mean {cel_mean:6.2f} µs   p99 {cel_p99:6.2f} µs per event")
    print(f"  fraudgate row mode:           mean {sub_mean:6.2f} µs   p99 {sub_p99:6.2f} µs per event")
    print(f"  ratio CEL / fraudgate:        mean {cel_mean / sub_mean:6.1f}×   p99 {cel_p99 / sub_p99:6.1f}×")


if __name__ == "__main__":
    main()
