"""The /v1/decide benchmark of docs/BENCHMARKS.md: latency at a fixed rate and the highest sustainable rate,
beside a trivial endpoint of the same app (`/healthz`) measured in the same run.

    .venv/bin/python benchmarks/decide_bench.py [--rate 200] [--duration 20] [--sla-p99-ms 50] [--batch-size 1]

It starts its own redis-server and `fraudgate serve` (one uvicorn process) on free ports, with the demo data and
model of `make run` (made first when absent), replays the demo events in order (so velocity windows fill as in
production), and drives the server with `python -m loadtest` (open loop, latency from the intended send time).
On this 2-core machine the server and the load generator share the cores: figures are a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import demo_server  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")


def _load(url: str, key: str, out: Path, args: list[str]) -> dict[str, Any]:
    cmd = [PY, "-m", "loadtest", "--url", url, "--api-key", key, "--json", str(out), "--no-progress", *args]
    print("$", " ".join(c if c != key else "<key>" for c in cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=False)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _errors(rep: dict[str, Any]) -> int:
    errors = rep["errors"]
    kinds = errors.get("by_kind", errors) if isinstance(errors, dict) else {}
    return int(sum(v for v in kinds.values() if isinstance(v, int | float)))


def _row(name: str, rep: dict[str, Any]) -> str:
    lat = rep["latency_ms"]
    stages = rep.get("stages") or {}
    total = sum(stages.values()) or 1
    stage = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(stages.items()))
    return (
        f"| {name} | {rep['target_rate']:.0f} | {rep['achieved_rate']:.0f} | {lat['p50']:.2f} | {lat['p90']:.2f} | "
        f"{lat['p99']:.2f} | {lat['p999']:.2f} | {rep['late_sends']} | {_errors(rep)} | "
        f"{rep['generator_cpu_pct']:.0f} % | {stage or '-'} |"
    )


def _best(search: dict[str, Any]) -> dict[str, Any] | None:
    ok = [s for s in search["steps"] if s.get("sla_met") and not _errors(s) and not s.get("late_sends")]
    return max(ok, key=lambda s: s["achieved_rate"]) if ok else None


def main() -> int:
    """Run the benchmark and print a Markdown table."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=200, help="fixed request rate, per second")
    p.add_argument("--duration", type=float, default=20, help="measured seconds per run")
    p.add_argument("--sla-p99-ms", type=float, default=50, help="p99 budget for the sustainable-rate search")
    p.add_argument("--find-max-duration", type=float, default=8, help="seconds per step of the search")
    p.add_argument("--skip-find-max", action="store_true")
    p.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="events per /v1/decide request (>1: /v1/decide/batch; rates are requests/s)",
    )
    a = p.parse_args()

    with demo_server("fraudgate-bench-") as served:
        url, secret, work, events = served.url, served.key, served.work, str(served.events)
        common = ["--rate", str(a.rate), "--duration", str(a.duration), "--warmup", "3"]
        trivial = _load(url, secret, work / "healthz.json", ["--path", "/healthz", *common])
        batch = ["--batch-size", str(a.batch_size)] if a.batch_size > 1 else []
        decide = _load(url, secret, work / "decide.json", ["--events", events, *batch, *common])
        rows = [_row("`GET /healthz` (trivial)", trivial), _row("`POST /v1/decide`", decide)]
        maxima: list[str] = []
        if not a.skip_find_max:
            search_args = ["--find-max", "--sla-p99-ms", str(a.sla_p99_ms), "--duration",
                           str(a.find_max_duration), "--warmup", "2", "--rate", str(a.rate)]  # fmt: skip
            for name, extra in (("`GET /healthz` (trivial)", ["--path", "/healthz"]),
                                ("`POST /v1/decide`", ["--events", events, *batch])):  # fmt: skip
                best = _best(_load(url, secret, work / "max.json", [*extra, *search_args]))
                maxima.append(f"| {name} | {best['achieved_rate']:.0f} |" if best else f"| {name} | none |")
    print()
    print(f"Fixed rate {a.rate:.0f}/s for {a.duration:.0f} s (after 3 s warm-up), open loop, 1 server process:")
    print()
    print("| endpoint | intended /s | achieved /s | p50 ms | p90 ms | p99 ms | p99.9 ms | late sends | errors | "
          "generator CPU | decided by |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if maxima:
        print()
        print(f"Highest rate with p99 <= {a.sla_p99_ms:.0f} ms, no errors, no late sends:")
        print()
        print("| endpoint | sustainable /s |")
        print("|---|---|")
        print("\n".join(maxima))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
