"""`python -m loadtest` / `fraudgate loadtest`: an open-loop HTTP load test of the engine.

Exit codes: 0 passed, 1 the SLA failed (or nothing was answered, or find-max found no sustainable rate), 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from loadtest.report import format_report, to_json
from loadtest.session import Options, find_max, run_once


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; defaults come from `Options`."""
    d = Options()
    p = argparse.ArgumentParser(
        prog="fraudgate loadtest",
        description="Open-loop load test: requests go out on a fixed schedule whatever the server does, and latency "
        "is measured from each request's intended send time (no coordinated omission).",
    )
    p.add_argument("--url", default=d.url, help="engine base URL (default %(default)s)")
    p.add_argument(
        "--path", default=d.path, help="path; decide paths POST events, others are GET (default %(default)s)"
    )
    p.add_argument("--rate", type=float, default=d.rate, help="requests per second (default %(default)s)")
    p.add_argument("--duration", type=float, default=d.duration, help="measured seconds (default %(default)s)")
    p.add_argument("--warmup", type=float, default=d.warmup, help="seconds excluded from stats (default %(default)s)")
    p.add_argument("--sla-p99-ms", type=float, default=None, help="fail (exit 1) when p99 latency exceeds this")
    p.add_argument(
        "--api-key", default=os.environ.get("FRAUDGATE_API_KEY"), help="bearer key (default: $FRAUDGATE_API_KEY)"
    )
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the JSON report")
    p.add_argument("--html", type=Path, default=None, metavar="PATH", help="write the HTML report with plots")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of events and arrivals (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="events per request; >1 uses /v1/decide/batch")
    p.add_argument("--arrivals", choices=["constant", "poisson"], default=d.arrivals, help="(default %(default)s)")
    p.add_argument("--processes", type=int, default=d.processes, help="worker processes (default %(default)s)")
    p.add_argument("--events", type=Path, default=None, metavar="PARQUET", help="replay events from this file")
    p.add_argument("--find-max", action="store_true", help="step the rate up to the highest one meeting the SLA")
    p.add_argument("--timeout", type=float, default=d.timeout, help="per-request timeout, s (default %(default)s)")
    p.add_argument("--late-ms", type=float, default=d.late_ms, help="late-send threshold, ms (default %(default)s)")
    p.add_argument("--max-connections", type=int, default=d.max_connections, help="per process (default %(default)s)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def parse_options(argv: list[str] | None = None) -> Options:
    """Parse and validate the command line (argparse exits with code 2 on a bad flag)."""
    args = build_parser().parse_args(argv)
    opts = Options(**vars(args))
    opts.validate()
    return opts


def main(argv: list[str] | None = None) -> int:
    """Run the load test; returns the exit code."""
    try:
        opts = parse_options(argv)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return _find_max(opts) if opts.find_max else _single(opts)
    except (ValueError, OSError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _single(opts: Options) -> int:
    report, result = run_once(opts, opts.rate)
    print(format_report(report))
    if opts.json is not None:
        opts.json.write_bytes(to_json(report))
    if opts.html is not None:
        from loadtest.html import write_html  # lazy: matplotlib is slow to import

        write_html(opts.html, report, result)
    if report.count and not report.ok:
        print("FAIL: no successful response", file=sys.stderr)
        return 1
    return 1 if report.sla_ok is False else 0


def _find_max(opts: Options) -> int:
    search = find_max(opts)
    best = search.best
    rate = best[0].intended_rate if best else None
    if opts.json is not None:
        opts.json.write_bytes(to_json(search.steps, {"max_sustainable_rate": rate}))
    if best is None:
        print(f"FAIL: not even {opts.rate:g}/s met p99 <= {opts.sla_p99_ms:g} ms without errors or late sends")
        return 1
    print(format_report(best[0]))
    if opts.html is not None:
        from loadtest.html import write_html

        write_html(opts.html, best[0], best[1])
    print(f"max sustainable rate: {rate:.1f}/s (p99 {best[0].latency_ms.p99:.2f} ms)")
    return 0
