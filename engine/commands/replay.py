"""`fraudgate replay`: run history through a baseline and a candidate configuration and report the difference."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.commands import Subparsers
from engine.settings import Settings

DEFAULT_POLICY = Path("policies/card_payment.yaml")


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    import polars as pl
    from tqdm import tqdm

    from engine.replay import html, load_config, replay, tune
    from engine.replay.config import resolve_model
    from engine.replay.inputs import open_events, read_labels
    from engine.replay.report import summarize, terminal
    from engine.training import read_profiles

    try:
        source = open_events(args.events)
        labels = read_labels(args.labels) if args.labels else None
    except (ValueError, OSError, pl.exceptions.PolarsError) as e:
        print(f"fraudgate replay: {e}", file=sys.stderr)
        return 2
    base_policy = args.baseline_policy or settings.policy_dir / "card_payment.yaml"
    baseline = load_config("baseline", base_policy, resolve_model(args.baseline_model, settings.model_dir))
    candidate = load_config(
        "candidate",
        args.candidate_policy or base_policy,
        resolve_model(args.candidate_model, settings.model_dir),
    )
    profiles_dir = args.profiles or source.profiles_dir
    profiles = read_profiles(profiles_dir) if profiles_dir else {}
    with tqdm(desc="replay", unit="event", unit_scale=True, disable=args.quiet) as bar:
        result = replay(
            source, profiles, baseline, candidate, labels=labels, chunk_rows=args.chunk_rows, on_chunk=bar.update,
            where=str(args.events),
        )  # fmt: skip
    summary = summarize(result, sample=args.sample)
    tuned = None
    if result.frame.height:
        tuned = tune.suggest(
            result.frame, summary["days"], deny_rate=args.tune_deny_rate, reviews_per_day=args.tune_reviews_per_day
        )
        summary["tune"] = {k: v for k, v in tuned.items() if k != "curve"}
    print(terminal(summary))
    for key in ("deny", "review"):
        point = (tuned or {}).get(key)
        if point:
            print(f"suggested {key}: {point.get('rule') or point.get('note')}")
    if args.json:
        args.json.write_text(json.dumps({**summary, "tune": tuned}, indent=1, default=str))
    if args.html:
        args.html.write_text(html.render(summary, result.frame, tuned))
        print(f"report: {args.html}")
    return 0


def register(sub: Subparsers) -> None:
    """Add `replay`."""
    r = sub.add_parser("replay", help="replay an event log through a baseline and a candidate policy/model; diff")
    r.add_argument(
        "--events",
        type=Path,
        required=True,
        help="generated folder, ETL output folder, events Parquet, or the Handbook's transactions.parquet",
    )
    r.add_argument("--profiles", type=Path, help="folder with cards/customers/merchants/devices.parquet")
    r.add_argument("--labels", type=Path, help="Parquet with event_id, is_fraud (labelled_at also feeds features)")
    r.add_argument("--baseline-policy", type=Path, help=f"policy file (default: {DEFAULT_POLICY} in the policy dir)")
    r.add_argument("--candidate-policy", type=Path, help="policy file (default: the baseline's)")
    r.add_argument("--baseline-model", type=Path, help="bundle folder or version (default: CURRENT of the registry)")
    r.add_argument("--candidate-model", type=Path, help="bundle folder or version (default: CURRENT of the registry)")
    r.add_argument("--json", type=Path, help="write the summary as JSON")
    r.add_argument("--html", type=Path, help="write the self-contained HTML report")
    r.add_argument("--sample", type=int, default=20, help="changed decisions to show (default 20)")
    r.add_argument("--tune-deny-rate", type=float, help="suggest the deny cut-off for a deny rate <= this share")
    r.add_argument("--tune-reviews-per-day", type=float, help="suggest the review cut-off for this review capacity")
    r.add_argument("--chunk-rows", type=int, default=2_000_000, help="events per chunk (memory bound)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(handler=_replay)
