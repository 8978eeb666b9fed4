"""The diff of a replay as numbers: rule filter ratios, action rates, changed decisions, fraud caught and its cost,
per-segment breakdowns; as a JSON-ready dict and as a terminal table."""

from __future__ import annotations

from typing import Any

import polars as pl

from engine.replay.run import PREFIXES, ReplayResult

ACTIONS = ("approve", "review", "deny")
SEGMENTS = ("channel", "country", "mcc")
TOP_SEGMENTS = 12
"""Segment values shown per dimension, the busiest first."""


def _side(df: pl.DataFrame, p: str, labelled: bool) -> dict[str, Any]:
    n = df.height
    act = pl.col(f"{p}action")
    out: dict[str, Any] = {
        "action_rates": {a: df.filter(act == a).height / n if n else 0.0 for a in ACTIONS},
        "stage_counts": dict(df.group_by(f"{p}stage").len().sort(f"{p}stage").iter_rows()),
        "pre_policy_filter_ratio": {
            r: c / n
            for r, c in df.filter(pl.col(f"{p}stage") == "pre_policy")
            .group_by(f"{p}rule")
            .len()
            .sort(f"{p}rule")
            .iter_rows()
        },
        "shadow_hits": dict(df[f"{p}shadow"].explode().drop_nulls().value_counts(sort=True).iter_rows()),
        "ecdf_quantiles": _quantiles(df[f"{p}ecdf"]),
    }
    if labelled:
        out["outcomes"] = _outcomes(df, p)
    return out


def _quantiles(s: pl.Series) -> dict[str, float | None]:
    s = s.drop_nulls()
    return {f"p{int(q * 100)}": (float(s.quantile(q)) if s.len() else None) for q in (0.5, 0.9, 0.99)}  # type: ignore[arg-type]


def _outcomes(df: pl.DataFrame, p: str) -> dict[str, Any]:
    """Fraud caught and false positives, counts and amounts, for deny alone and for deny or review (flagged)."""
    lab = df.filter(pl.col("is_fraud").is_not_null())
    fraud = pl.col("is_fraud")
    total_fraud = lab.filter(fraud).height
    out: dict[str, Any] = {
        "labelled": lab.height,
        "fraud": total_fraud,
        "fraud_amount": float(lab.filter(fraud)["amount"].sum()),
    }
    for name, hit in (("deny", pl.col(f"{p}action") == "deny"), ("flagged", pl.col(f"{p}action") != "approve")):
        tp, fp = lab.filter(hit & fraud), lab.filter(hit & ~fraud)
        out[name] = {
            "fraud_caught": tp.height,
            "fraud_caught_amount": float(tp["amount"].sum()),
            "false_positives": fp.height,
            "false_positive_amount": float(fp["amount"].sum()),
            "precision": tp.height / (tp.height + fp.height) if tp.height + fp.height else None,
            "recall": tp.height / total_fraud if total_fraud else None,
        }
    return out


def _segments(df: pl.DataFrame, labelled: bool) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for seg in SEGMENTS:
        aggs = [pl.len().alias("events"), (pl.col("base_action") != pl.col("cand_action")).sum().alias("changed")]
        for p in PREFIXES:
            for a in ("review", "deny"):
                aggs.append((pl.col(f"{p}action") == a).mean().alias(f"{p}{a}_rate"))
            if labelled:
                aggs.append(
                    (pl.col("is_fraud").fill_null(False) & (pl.col(f"{p}action") != "approve"))
                    .sum()
                    .alias(f"{p}fraud_flagged")
                )
        if labelled:
            aggs.append(pl.col("is_fraud").fill_null(False).sum().alias("fraud"))
        table = df.group_by(seg).agg(aggs).sort(["events", seg], descending=[True, False]).head(TOP_SEGMENTS)
        out[seg] = table.rename({seg: "value"}).to_dicts()
    return out


def summarize(result: ReplayResult, sample: int = 20) -> dict[str, Any]:
    """Everything the report shows, JSON-ready."""
    df = result.frame
    labelled = "is_fraud" in df.columns and df["is_fraud"].is_not_null().any()
    changed = df.filter(pl.col("base_action") != pl.col("cand_action"))
    transitions = changed.group_by("base_action", "cand_action").len().sort("len", descending=True)
    cols = ["event_id", "occurred_at", "amount", "channel", "country", "mcc", "is_fraud"]
    cols += [f"{p}{c}" for p in PREFIXES for c in ("action", "stage", "rule", "ecdf")]
    picked = changed.sample(min(sample, changed.height), seed=0) if changed.height else changed
    days = _days(df)
    return {
        "source": result.source,
        "events": df.height,
        "days": days,
        "seconds": result.seconds,
        "events_per_minute": df.height / result.seconds * 60 if result.seconds else None,
        "stages_s": result.stages_s,
        "labelled": bool(labelled),
        "baseline": {
            "policy": str(result.baseline.policy_path),
            "policy_version": result.baseline.policy.version,
            "model_version": _model(result.baseline),
            **_side(df, "base_", bool(labelled)),
        },
        "candidate": {
            "policy": str(result.candidate.policy_path),
            "policy_version": result.candidate.policy.version,
            "model_version": _model(result.candidate),
            **_side(df, "cand_", bool(labelled)),
        },
        "changed": {
            "count": changed.height,
            "share": changed.height / df.height if df.height else 0.0,
            "transitions": [{"from": f, "to": t, "count": c} for f, t, c in transitions.iter_rows()],
            "sample": picked.select(cols).with_columns(pl.col("occurred_at").cast(pl.String)).to_dicts(),
        },
        "segments": _segments(df, bool(labelled)),
    }


def _model(config: Any) -> str | None:
    return config.bundle.manifest.version if config.bundle is not None else None


def _days(df: pl.DataFrame) -> float:
    if df.is_empty():
        return 0.0
    span = float(df.select((pl.col("occurred_at").max() - pl.col("occurred_at").min()).dt.total_seconds()).item())
    return max(span / 86_400, 1.0)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:6.2f}%"


def terminal(summary: dict[str, Any]) -> str:
    """A plain-text table of the diff for the terminal."""
    b, c = summary["baseline"], summary["candidate"]
    lines = [
        f"replayed {summary['events']:,} events ({summary['source']}) over {summary['days']:.1f} days "
        f"in {summary['seconds']:.1f} s ({(summary['events_per_minute'] or 0) / 1e6:.2f} M events/min)",
        f"baseline  policy {b['policy_version']}  model {b['model_version']}",
        f"candidate policy {c['policy_version']}  model {c['model_version']}",
        "",
        f"{'':28}{'baseline':>12}{'candidate':>12}",
    ]
    for a in ACTIONS:
        lines.append(f"{a + ' rate':28}{_pct(b['action_rates'][a]):>12}{_pct(c['action_rates'][a]):>12}")
    rules = sorted({*b["pre_policy_filter_ratio"], *c["pre_policy_filter_ratio"]})
    for r in rules:
        rb, rc = b["pre_policy_filter_ratio"].get(r), c["pre_policy_filter_ratio"].get(r)
        lines.append(f"{'pre ' + r:28.28}{_pct(rb):>12}{_pct(rc):>12}")
    for r in sorted({*b["shadow_hits"], *c["shadow_hits"]}):
        lines.append(f"{'shadow ' + r:28.28}{b['shadow_hits'].get(r, 0):>12,}{c['shadow_hits'].get(r, 0):>12,}")
    if summary["labelled"]:
        for kind in ("deny", "flagged"):
            ob, oc = b["outcomes"][kind], c["outcomes"][kind]
            for k in ("fraud_caught", "fraud_caught_amount", "false_positives", "false_positive_amount"):
                lines.append(f"{kind + ' ' + k.replace('_', ' '):28.28}{ob[k]:>12,.0f}{oc[k]:>12,.0f}")
            for k in ("precision", "recall"):
                lines.append(f"{kind + ' ' + k:28}{_pct(ob[k]):>12}{_pct(oc[k]):>12}")
    ch = summary["changed"]
    lines += ["", f"changed decisions: {ch['count']:,} ({_pct(ch['share']).strip()})"]
    lines += [f"  {t['from']:>8} -> {t['to']:<8}{t['count']:>10,}" for t in ch["transitions"]]
    return "\n".join(lines)
