"""`python -m loadtest` / `fraudgate loadtest`: an open-loop HTTP load test of the engine.

Exit codes: 0 the verdict passed (p99 within `--sla-p99-ms`, filter ratio within `--expect-filter-ratio`, some 2xx
answers; with `--find-max`, a sustainable rate was found); 1 the verdict failed; 2 bad usage, a bad scenario file,
or nothing accepting connections at `--url`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from loadtest.report import format_report, to_json
from loadtest.scenario import Scenario, load_scenario
from loadtest.session import Options, Unreachable, find_max, run_once

USAGE, VIOLATED, PASSED = 2, 1, 0


def _ratio(text: str) -> tuple[float, float]:
    low, sep, high = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(low), float(high)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN:MAX such as 0.55:0.75, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser. Flags left out do not appear in the namespace: the scenario, then `Options`, fill them."""
    d = Options()
    p = argparse.ArgumentParser(
        prog="fraudgate loadtest",
        description="Open-loop load test: requests go out on a fixed schedule whatever the server does, and latency "
        "is measured from each request's intended send time (no coordinated omission).",
        argument_default=argparse.SUPPRESS,
    )
    p.add_argument("--scenario", type=Path, metavar="FILE", help="YAML scenario giving events and defaults")
    p.add_argument("--url", help=f"engine base URL (default {d.url})")
    p.add_argument("--path", help=f"path; decide paths POST events, others are GET (default {d.path})")
    p.add_argument("--rate", type=float, help=f"requests per second (default {d.rate:g})")
    p.add_argument("--duration", type=float, help=f"measured seconds (default {d.duration:g})")
    p.add_argument("--warmup", type=float, help=f"seconds excluded from stats (default {d.warmup:g})")
    p.add_argument("--sla-p99-ms", type=float, help="fail (exit 1) when p99 latency exceeds this")
    p.add_argument(
        "--expect-filter-ratio", type=_ratio, metavar="MIN:MAX", help="fail (exit 1) when the pre-policy share is out"
    )
    p.add_argument("--api-key", help="bearer key (default: $FRAUDGATE_API_KEY)")
    p.add_argument("--json", type=Path, metavar="PATH", help="write the JSON report")
    p.add_argument("--html", type=Path, metavar="PATH", help="write the HTML report with plots")
    p.add_argument("--seed", type=int, help=f"seed of events and arrivals (default {d.seed})")
    p.add_argument("--batch-size", type=int, help="events per request; >1 uses /v1/decide/batch")
    p.add_argument("--arrivals", choices=["constant", "poisson"], help=f"(default {d.arrivals})")
    p.add_argument("--processes", type=int, help=f"worker processes (default {d.processes})")
    p.add_argument("--events", type=Path, metavar="PARQUET", help="send these events, in order, cycled")
    p.add_argument("--find-max", action="store_true", help="step the rate up to the highest one meeting the SLA")
    p.add_argument("--timeout", type=float, help=f"per-request timeout, s (default {d.timeout:g})")
    p.add_argument("--late-ms", type=float, help=f"late-send threshold, ms (default {d.late_ms:g})")
    p.add_argument("--max-connections", type=int, help=f"per process (default {d.max_connections})")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no live progress line")
    return p


def _from_scenario(scenario: Scenario, path: Path, base: Path) -> dict[str, Any]:
    fields: dict[str, Any] = {"scenario": path, "base_dir": base}
    for name in ("path", "rate", "arrivals", "duration", "warmup", "batch_size", "sla_p99_ms"):
        value = getattr(scenario, name)
        if value is not None:
            fields[name] = value
    if scenario.expect_filter_ratio is not None:
        fields["expect_filter_ratio"] = (scenario.expect_filter_ratio.min, scenario.expect_filter_ratio.max)
    if scenario.synthetic is not None:
        fields["synthetic"] = scenario.synthetic
    if scenario.replay is not None:
        fields["replay"] = scenario.replay
    return fields


def parse_options(argv: list[str] | None = None) -> Options:
    """Flags over scenario over defaults, validated (argparse exits with code 2 on a bad flag; ValueError else)."""
    args: dict[str, Any] = vars(build_parser().parse_args(argv))
    fields: dict[str, Any] = {}
    if "scenario" in args:
        scenario, base = load_scenario(args["scenario"])
        fields.update(_from_scenario(scenario, args["scenario"], base))
        if "events" in args and (scenario.synthetic or scenario.replay):
            raise ValueError("--events conflicts with the scenario's own events (`synthetic` or `replay`)")
    fields.update(args)
    fields.setdefault("api_key", os.environ.get("FRAUDGATE_API_KEY"))
    opts = Options(**fields)
    opts.validate()
    return opts


def main(argv: list[str] | None = None) -> int:
    """Run the load test; returns the exit code."""
    try:
        opts = parse_options(argv)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE
    try:
        return _find_max(opts) if opts.find_max else _single(opts)
    except Unreachable as exc:
        print(f"error: {exc} (is the engine running at {opts.url}?)", file=sys.stderr)
        return USAGE
    except (ValueError, OSError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE


def _single(opts: Options) -> int:
    report, result = run_once(opts, opts.rate)
    print(format_report(report))
    if opts.json is not None:
        opts.json.write_bytes(to_json(report))
    if opts.html is not None:
        from loadtest.html import write_html  # lazy: matplotlib is slow to import

        write_html(opts.html, report, result)
    if report.count and report.errors.by_kind.get("connect_error", 0) == report.count:
        print(f"error: no connection could be opened to {opts.url}", file=sys.stderr)
        return USAGE
    if report.count and not report.ok:
        print("FAIL: no successful response", file=sys.stderr)
    return PASSED if report.passed else VIOLATED


def _find_max(opts: Options) -> int:
    search = find_max(opts)
    best = search.best
    if opts.json is not None:
        opts.json.write_bytes(to_json(search.steps, {"max_sustainable_rate": search.max_rate, "curve": search.curve}))
    if opts.html is not None:
        from loadtest.html import write_html

        shown = best or search.last
        if shown is not None:
            write_html(opts.html, shown[0], shown[1], search.curve)
    if best is None:
        print(f"FAIL: not even {opts.rate:g}/s met p99 <= {opts.sla_p99_ms:g} ms without errors or late sends")
        return VIOLATED
    print(format_report(best[0]))
    print(f"max sustainable rate: {search.max_rate:.1f}/s (p99 {best[0].latency_ms.p99:.2f} ms)")
    return PASSED
