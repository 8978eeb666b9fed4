"""A self-contained HTML report: the summary table and two inline PNG plots (matplotlib, Agg backend)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, no GUI toolkit

import matplotlib.pyplot as plt
import numpy as np

from loadtest.report import Report, format_report
from loadtest.runner import RunResult
from loadtest.schedule import percentiles

_MAX_POINTS = 20_000  # scatter points drawn; more only slows the browser down


def _png(fig: object) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _over_time(t: np.ndarray, ms: np.ndarray, warmup_s: float, sla: float | None) -> str:
    fig, ax = plt.subplots(figsize=(10, 4))
    if t.size:
        pick = np.random.default_rng(0).choice(t.size, size=min(t.size, _MAX_POINTS), replace=False)
        ax.scatter(t[pick], ms[pick], s=2, alpha=0.4, label="request")
        edges = np.linspace(float(t.min()), float(t.max()) + 1e-9, 61)
        bins = np.digitize(t, edges) - 1
        mids, p99 = [], []
        for b in range(len(edges) - 1):
            sel = ms[bins == b]
            if sel.size:
                mids.append((edges[b] + edges[b + 1]) / 2)
                p99.append(percentiles(sel, (99.0,))[0])
        ax.plot(mids, p99, color="C3", label="p99 per bin")
    if warmup_s > 0:
        ax.axvline(warmup_s, color="grey", linestyle=":", label="end of warm-up")
    if sla is not None:
        ax.axhline(sla, color="C1", linestyle="--", label="SLA p99")
    ax.set_yscale("log")
    ax.set_xlabel("intended send time (s)")
    ax.set_ylabel("latency (ms, from intended send)")
    ax.set_title("Latency over time")
    ax.legend(loc="upper right")
    return _png(fig)


def _distribution(ms: np.ndarray, sla: float | None) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    if ms.size:
        left.hist(ms, bins=np.geomspace(max(float(ms.min()), 1e-3), float(ms.max()) * 1.01 + 1e-3, 60))
        left.set_xscale("log")
        ordered = np.sort(ms)
        q = (np.arange(ordered.size) + 1) / ordered.size
        keep = q < 1.0
        right.plot(1.0 / (1.0 - q[keep]), ordered[keep])
        right.set_xscale("log")
        ticks = [2, 10, 100, 1000, 10000]
        right.set_xticks(ticks, ["50%", "90%", "99%", "99.9%", "99.99%"])
    if sla is not None:
        right.axhline(sla, color="C1", linestyle="--", label="SLA p99")
        right.legend()
    left.set_xlabel("latency (ms)")
    left.set_ylabel("requests")
    left.set_title("Latency histogram")
    right.set_xlabel("percentile")
    right.set_ylabel("latency (ms)")
    right.set_title("Latency by percentile")
    return _png(fig)


def write_html(path: Path, report: Report, result: RunResult) -> None:
    """Write the report with its plots inlined as base64 PNGs (one file, no external assets)."""
    run = report.run
    window = (result.offsets >= run.warmup_s) & ~np.isnan(result.done)
    all_answered = ~np.isnan(result.done)
    t = result.offsets[all_answered]
    ms = (result.done - result.offsets)[all_answered] * 1000.0
    over_time = _over_time(t, ms, run.warmup_s, run.sla_p99_ms)
    dist = _distribution((result.done - result.offsets)[window] * 1000.0, run.sla_p99_ms)
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fraudgate loadtest {html.escape(run.run_id)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1300px}}pre{{background:#f4f4f4;padding:1em}}
img{{max-width:100%}}</style></head><body>
<h1>fraudgate load test</h1>
<pre>{html.escape(format_report(report))}</pre>
<p>Latency is measured from each request's intended send time (open loop), so server stalls show in full.</p>
<img alt="latency over time" src="data:image/png;base64,{over_time}">
<img alt="latency distribution" src="data:image/png;base64,{dist}">
</body></html>
"""
    path.write_text(doc, encoding="utf-8")
