"""The self-contained HTML report of a replay: the diff's tables and its plots as inline PNGs (matplotlib Agg)."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers; set before pyplot is imported
import matplotlib.pyplot as plt
import polars as pl

from engine.replay.report import ACTIONS

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}
.up{color:#b00}.down{color:#070}"""


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def _actions_plot(summary: dict[str, Any]) -> str:
    fig, ax = plt.subplots(figsize=(6, 3))
    x = range(len(ACTIONS))
    for k, (side, off) in enumerate((("baseline", -0.2), ("candidate", 0.2))):
        rates = [100 * summary[side]["action_rates"][a] for a in ACTIONS]
        ax.bar([i + off for i in x], rates, width=0.4, label=side, color=("#888", "#1f77b4")[k])
    ax.set_xticks(list(x), ACTIONS)
    ax.set_yscale("log")
    ax.set_ylabel("% of events (log)")
    ax.legend()
    return _png(fig)


def _scores_plot(frame: pl.DataFrame) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
    labelled = "is_fraud" in frame.columns and frame["is_fraud"].is_not_null().any()
    for ax, p, title in ((axes[0], "base_", "baseline"), (axes[1], "cand_", "candidate")):
        scored = frame.filter(pl.col(f"{p}ecdf").is_not_null())
        if labelled:
            for value, color in ((False, "#888"), (True, "#d62728")):
                part = scored.filter(pl.col("is_fraud").fill_null(False) == value)[f"{p}ecdf"].to_numpy()
                ax.hist(
                    part,
                    bins=50,
                    range=(0, 1),
                    density=True,
                    alpha=0.6,
                    color=color,
                    label="fraud" if value else "legit",
                )
            ax.legend()
        else:
            ax.hist(scored[f"{p}ecdf"].to_numpy(), bins=50, range=(0, 1), color="#1f77b4")
        ax.set_yscale("log")
        ax.set_title(f"{title}: ECDF of scored events")
    return _png(fig)


def _tune_plot(tune: dict[str, Any]) -> str:
    c = tune.get("curve")
    if not c:
        return "<p>no scored events</p>"
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    axes[0].plot(c["ecdf"], c["per_day"], color="#1f77b4")
    axes[0].set_xlabel("ECDF cut-off")
    axes[0].set_ylabel("model-flagged events per day")
    axes[0].set_yscale("log")
    for key, color in (("deny", "#d62728"), ("review", "#ff7f0e")):
        point = tune.get(key) or {}
        if point.get("ecdf") is not None:
            axes[0].axvline(point["ecdf"], color=color, ls="--", label=f"{key} >= {point['ecdf']:.4f}")
    axes[0].legend()
    if c["recall"] is not None:
        axes[1].plot([100 * r for r in c["flag_rate"]], c["recall"], label="recall")
        axes[1].plot([100 * r for r in c["flag_rate"]], c["precision"], label="precision")
        axes[1].set_xscale("log")
        axes[1].set_xlabel("% of events flagged by the model")
        axes[1].legend()
        axes[1].set_title("trade-off")
    else:
        axes[1].text(0.5, 0.5, "no labels: recall unknown", ha="center")
    return _png(fig)


def render(summary: dict[str, Any], frame: pl.DataFrame, tune: dict[str, Any] | None) -> str:
    """The whole report as one HTML string (no external files)."""
    b, c = summary["baseline"], summary["candidate"]
    rules = sorted({*b["pre_policy_filter_ratio"], *c["pre_policy_filter_ratio"]})
    pre = [
        {
            "rule": r,
            "baseline": b["pre_policy_filter_ratio"].get(r, 0.0),
            "candidate": c["pre_policy_filter_ratio"].get(r, 0.0),
        }
        for r in rules
    ]
    shadow = [
        {"shadow rule": r, "baseline hits": b["shadow_hits"].get(r, 0), "candidate hits": c["shadow_hits"].get(r, 0)}
        for r in sorted({*b["shadow_hits"], *c["shadow_hits"]})
    ]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>fraudgate replay</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Replay: baseline vs candidate</h1>",
        f"<p>{summary['events']:,} events ({html.escape(summary['source'])}), {summary['days']:.1f} days, "
        f"{summary['seconds']:.1f} s.</p>",
        _table(
            [
                {
                    "": "baseline",
                    "policy": b["policy"],
                    "policy version": b["policy_version"],
                    "model": b["model_version"],
                },
                {
                    "": "candidate",
                    "policy": c["policy"],
                    "policy version": c["policy_version"],
                    "model": c["model_version"],
                },
            ]
        ),
        "<h2>Action rates</h2>",
        _table([{"action": a, "baseline": b["action_rates"][a], "candidate": c["action_rates"][a]} for a in ACTIONS]),
        _actions_plot(summary),
        "<h2>Pre-policies: share of events each decides</h2>",
        _table(pre),
        _table(shadow),
        f"<h2>Changed decisions: {summary['changed']['count']:,} ({100 * summary['changed']['share']:.3f}%)</h2>",
        _table(summary["changed"]["transitions"]),
        "<h3>Sample</h3>",
        _table(summary["changed"]["sample"]),
    ]
    if summary["labelled"]:
        rows = []
        for kind in ("deny", "flagged"):
            for k in (
                "fraud_caught",
                "fraud_caught_amount",
                "false_positives",
                "false_positive_amount",
                "precision",
                "recall",
            ):
                rows.append(
                    {"": f"{kind}: {k}", "baseline": b["outcomes"][kind][k], "candidate": c["outcomes"][kind][k]}
                )
        parts += ["<h2>Fraud caught and its cost</h2>", _table(rows)]
    parts += ["<h2>Score distributions</h2>", _scores_plot(frame)]
    for seg, rows in summary["segments"].items():
        parts += [f"<h2>By {seg}</h2>", _table(rows)]
    if tune is not None:
        points = [{"action": k, **(tune.get(k) or {})} for k in ("deny", "review") if tune.get(k)]
        parts += ["<h2>Threshold tuning (candidate model)</h2>", _table(points), _tune_plot(tune)]
    parts.append("</body></html>")
    return "\n".join(parts)
