"""Replay throughput end to end (read, offline features, pre-policies, model, thresholds) in events per minute.

    .venv/bin/python benchmarks/replay_bench.py [--events 1000000] [--chunk-rows 2000000] [--model DIR]

On a generated log (`generate(SyntheticConfig(n_events=N, seed=7))`, written to a temporary folder and read back as
`fraudgate replay --events` does) and on the Handbook's transactions when present. Both sides use the same model,
so it scores once; the candidate policy differs (a lower deny cut-off, a wider card-present approval). Without
`--model` a small model is trained on 200,000 generated events first (not timed).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import polars as pl

from engine.context import current_model_path
from engine.replay import load_config, replay
from engine.replay.inputs import open_events
from engine.training import read_profiles, train_card_payment
from loadtest.synthetic import SyntheticConfig, generate

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "card_payment.yaml"
HANDBOOK = ROOT.parent / "shared" / "datasets" / "handbook" / "transactions.parquet"


def _run(name: str, path: Path, model: Path, candidate: Path, chunk_rows: int) -> None:
    base, cand = load_config("baseline", POLICY, model), load_config("candidate", candidate, model)
    source = open_events(path)
    profiles = read_profiles(source.profiles_dir) if source.profiles_dir else {}
    result = replay(source, profiles, base, cand, chunk_rows=chunk_rows)
    n = result.frame.height
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in result.stages_s.items())
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    print(f"{name}: {n:,} events in {result.seconds:.1f} s = {n / result.seconds * 60 / 1e6:.2f} M events/min "
          f"(chunk {chunk_rows:,} rows; {stages}; {load})", flush=True)  # fmt: skip


def main() -> None:
    """Run the benchmark and print the figures."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--chunk-rows", type=int, default=2_000_000)
    p.add_argument("--model", type=Path, help="a bundle folder or registry (default: train a small one)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        candidate = work / "candidate.yaml"
        candidate.write_text(POLICY.read_text().replace('"ecdf >= 0.999"', '"ecdf >= 0.99"').replace("< 150", "< 300"))
        if args.model is None:
            train = work / "train"
            generate(SyntheticConfig(n_events=200_000, seed=3), progress=False).write(train)
            train_card_payment(train, work / "models", progress=False)
            model = current_model_path(work / "models")
        else:
            model = current_model_path(args.model) if (args.model / "CURRENT").exists() else args.model
        assert model is not None
        t = time.perf_counter()
        generate(SyntheticConfig(n_events=args.events, seed=7), progress=False).write(work / "log")
        print(f"generated {args.events:,} events in {time.perf_counter() - t:.1f} s (not timed below)", flush=True)
        _run("generated", work / "log", model, candidate, args.chunk_rows)
        if args.chunk_rows >= args.events:
            _run("generated, streamed", work / "log", model, candidate, max(args.events // 4, 1))
        if HANDBOOK.exists():
            print(f"handbook: {pl.scan_parquet(HANDBOOK).select(pl.len()).collect().item():,} transactions", flush=True)
            _run("handbook", HANDBOOK, model, candidate, args.chunk_rows)
        else:
            print(f"handbook: skipped ({HANDBOOK} absent)")


if __name__ == "__main__":
    main()
