"""A self-contained HTML report: the summary, the per-rule table and inline PNG plots (matplotlib, Agg backend).

Every plot is drawn from the HDR histograms (latency over time from the per-interval ones), never from raw samples.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, no GUI toolkit

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from loadtest.report import Report, format_report
from loadtest.runner import RunResult
from loadtest.session import CurvePoint


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(alt: str, png: str) -> str:
    return f'<img alt="{alt}" src="data:image/png;base64,{png}">'


def _over_time(result: RunResult, warmup_s: float, sla: float | None) -> str:
    fig, ax = plt.subplots(figsize=(10, 4))
    t, values = result.timeline.series((50.0, 99.0, 100.0))
    if t.size:
        ax.plot(t, values[:, 2], color="C7", linewidth=0.8, label="max")
        ax.plot(t, values[:, 1], color="C3", label="p99")
        ax.plot(t, values[:, 0], color="C0", label="p50")
        ax.set_yscale("log")
    if warmup_s > 0:
        ax.axvline(warmup_s, color="grey", linestyle=":", label="end of warm-up")
    if sla is not None:
        ax.axhline(sla, color="C1", linestyle="--", label="SLA p99")
    ax.set_xlabel(f"intended send time (s), {result.timeline.interval_s:g} s intervals")
    ax.set_ylabel("latency (ms, from intended send)")
    ax.set_title("Latency over time")
    ax.legend(loc="upper right")
    return _png(fig)


def _histogram(result: RunResult) -> str:
    fig, ax = plt.subplots(figsize=(10, 4))
    lo, hi, counts = result.latency.buckets()
    if counts.size:
        # Regroup the fine HDR buckets into ~80 log-spaced bins for display.
        mids = np.maximum((lo + hi) / 2, 1e-3)
        edges = np.geomspace(max(float(mids.min()) / 1.01, 1e-3), float(mids.max()) * 1.01, 81)
        ax.hist(mids, bins=edges.tolist(), weights=counts)
        ax.set_xscale("log")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("requests")
    ax.set_title("Latency histogram (measured window)")
    return _png(fig)


def _percentiles(result: RunResult, sla: float | None) -> str:
    fig, ax = plt.subplots(figsize=(10, 4))
    _, hi, counts = result.latency.buckets()
    if counts.size:
        q = np.cumsum(counts) / counts.sum()
        keep = q < 1.0
        ax.step(1.0 / (1.0 - q[keep]), hi[keep], where="post")
        ax.set_xscale("log")
        ax.set_xticks([2, 10, 100, 1000, 10000], ["50%", "90%", "99%", "99.9%", "99.99%"])
    if sla is not None:
        ax.axhline(sla, color="C1", linestyle="--", label="SLA p99")
        ax.legend()
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (ms)")
    ax.set_title("Latency by percentile")
    return _png(fig)


def _curve(curve: list[CurvePoint], sla: float | None) -> str:
    fig, ax = plt.subplots(figsize=(10, 4))
    rates = [p.target_rate for p in curve]
    ax.plot(rates, [p.p99_ms for p in curve], marker="o", color="C3", label="p99")
    ax.plot(rates, [p.p50_ms for p in curve], marker=".", color="C0", label="p50")
    bad = [p for p in curve if not p.sustainable]
    if bad:
        ax.scatter([p.target_rate for p in bad], [p.p99_ms for p in bad], marker="x", s=80, color="k", zorder=3,
                   label="not sustainable")  # fmt: skip
    if sla is not None:
        ax.axhline(sla, color="C1", linestyle="--", label="SLA p99")
    ax.set_yscale("log")
    ax.set_xlabel("target rate (requests/s)")
    ax.set_ylabel("latency (ms)")
    ax.set_title("Capacity: rate vs p99")
    ax.legend()
    return _png(fig)


def _rule_table(report: Report) -> str:
    n = report.decisions
    rows = "".join(
        f"<tr><td>{html.escape(rule)}</td><td>{hits}</td><td>{100 * hits / n:.2f}%</td></tr>"
        for rule, hits in report.per_rule.items()
    )
    ratio = "-" if report.filter_ratio is None else f"{100 * report.filter_ratio:.2f}%"
    return (
        f"<h2>Pre-policies</h2><p>Filter ratio (decisions taken by pre-policies): <b>{ratio}</b> of {n} decisions."
        "</p><table><tr><th>rule</th><th>hits</th><th>share of decisions</th></tr>"
        f"{rows or '<tr><td colspan=3>no pre-policy decisions</td></tr>'}</table>"
    )


def _curve_table(curve: list[CurvePoint]) -> str:
    rows = "".join(
        f"<tr><td>{p.target_rate:.1f}</td><td>{p.achieved_rate:.1f}</td><td>{p.p50_ms:.2f}</td>"
        f"<td>{p.p99_ms:.2f}</td><td>{p.errors}</td><td>{p.late_sends}</td><td>{'yes' if p.sustainable else 'no'}"
        "</td></tr>"
        for p in curve
    )
    return (
        "<table><tr><th>target /s</th><th>sent /s</th><th>p50 ms</th><th>p99 ms</th><th>errors</th><th>late</th>"
        f"<th>sustainable</th></tr>{rows}</table>"
    )


def write_html(path: Path, report: Report, result: RunResult, curve: list[CurvePoint] | None = None) -> None:
    """Write the report with its plots inlined as base64 PNGs (one file, no external assets)."""
    run = report.run
    parts = [
        f"<pre>{html.escape(format_report(report))}</pre>",
        "<p>Latency is measured from each request's intended send time (open loop), so server stalls show in full."
        " Percentiles come from an HDR histogram: at most 0.79 % above the exact value, never below.</p>",
    ]
    if curve:
        best = max((p.target_rate for p in curve if p.sustainable), default=None)
        found = "none" if best is None else f"{best:.1f}/s"
        parts += [f"<h2>Capacity search</h2><p>Highest sustainable rate: <b>{found}</b></p>"]
        parts += [_img("capacity curve", _curve(curve, run.sla_p99_ms)), _curve_table(curve)]
        parts += [f"<h2>Step at {report.target_rate:.1f}/s</h2>"]
    parts += [
        _img("latency over time", _over_time(result, run.warmup_s, run.sla_p99_ms)),
        _img("latency histogram", _histogram(result)),
        _img("latency by percentile", _percentiles(result, run.sla_p99_ms)),
    ]
    if report.decisions:
        parts.append(_rule_table(report))
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fraudgate loadtest {html.escape(run.run_id)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1300px}}pre{{background:#f4f4f4;padding:1em}}
img{{max-width:100%}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .6em}}</style>
</head><body>
<h1>fraudgate load test</h1>
{"".join(parts)}
</body></html>
"""
    path.write_text(doc, encoding="utf-8")
