"""Where a decision's time goes, stage by stage: py-spy on a live `fraudgate serve` under open-loop demo load.

    pip install py-spy            # not a project dependency: it needs ptrace, and CI never runs it
    .venv/bin/python benchmarks/profile_decide.py [--rate 500] [--duration 10] [--batch-size 1] [--out var/profile]

It starts its own redis-server and one `fraudgate serve` (uvicorn, one worker) with the demo data and model of
`make run`, drives `/v1/decide` (or `/v1/decide/batch`) with `python -m loadtest` at a fixed rate, and samples the
server with `py-spy record` meanwhile (250 Hz; the process is paused for each sample, so stacks are consistent).
It writes the flame graph (`profile.svg`) and the collapsed stacks (`profile.txt`) under `--out`, and prints one
row per stage: its share of the samples and that share of the server's CPU per request (from /proc, same run).

Each sample goes to the first stage of `STAGES` whose pattern appears in its stack, else to the innermost of the
layers every request crosses (`WRAPPERS`: our middleware, then Litestar and uvicorn); a sample whose innermost frame
of our own code is a line calling C (msgspec, the compiled scorer) is classified by that line's text (`LINES`), and
one with no Python frame under the loop's `run` is the event loop's own C code (`LOOP`). py-spy leaves idle threads
out, but not uvloop's wait in epoll_wait: the samples beyond the CPU time /proc reports are that wait, and come off
the loop's count. The table is a map of where the time goes; the /proc figure is the exact total.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.harness import answered, cpu_seconds, demo_server  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")
SAMPLE_HZ = 250

LOOP = "event loop in C (uvloop: socket reads and writes, epoll, timers; HTTP and Redis)"

STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model: SHAP reasons (review/deny only)", ("reasons (models/scorer.py", "contributions (models/fast_predict")),
    ("decision (thresholds, stamp, counters)", ("threshold (engine/policy.py", "_stamp (", "_count (engine/pip")),
    ("model: score, challenger, drift", ("score_row", "(models/", "_challenger (engine", "_drift (engine")),
    ("log record (build, encode, enqueue)", ("put (engine/sink.py", "_model_inputs (engine", "LogRecord")),
    ("velocity update + log write (background sink)", ("engine/sink.py", "features/updates.py")),
    ("features: build the level's commands", ("_queue_level (features", "_queue_velocity", "batch (features/tr")),
    ("features: parse replies, derived features", ("_reader (features", "read (features", "features/derived")),
    ("features: Redis round trip (client side)", ("features/transport.py", "features/executor.py")),
    ("pre-policies", ("pre_policy (engine", "(rules/")),
    (
        "decode (msgspec, PAN tokenizing, content-type)",
        ("decode_event (", "_decode (engine", "_check_json (", "carddata"),
    ),
    ("auth (guard)", ("authorize", "engine/auth.py", "engine/ratelimit.py")),
    ("encode response (msgspec, Server-Timing)", ("server_timing (", "timings_ms (")),
    ("pipeline glue (`event_row`, per-request objects)", ("engine/pipeline.py", "engine/deadline.py")),
    ("HTTP response write (uvicorn `send`, the syscall)", ("send (uvicorn", "_write_ready")),
)
"""Stage name and the stack substrings that put a sample in it; the first matching stage wins."""

WRAPPERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("edge middleware (request id, HTTP metrics)", ("engine/app.py", "engine/logs.py", "engine/metrics.py",
                                                    "prometheus_client", "uuid.py")),
    ("HTTP server + Litestar (parse, route, the rest of the loop)", ("litestar/", "uvicorn/", "httptools",
                                                                     "typing.py")),
)  # fmt: skip
"""Stages of the layers every request passes through: a sample none of `STAGES` claims goes to the wrapper of its
innermost frame that matches one (the middleware wraps Litestar's routing, which wraps the handlers)."""

LINES: tuple[tuple[str, str], ...] = (
    ("score_row(", "model: score, challenger, drift"),
    ("_encoder.encode(", "encode response (msgspec, Server-Timing)"),
    ("decoder.decode(", "decode (msgspec, PAN tokenizing, content-type)"),
)
"""Source text of a line of ours that calls C, and the stage its samples belong to."""

OTHER = "event loop, other"
IDLE = ("Condition.wait (threading.py", "Event.wait (threading.py")
"""Leaf frames of threads that wait (the log writer's queue listener): py-spy counts some of them as running."""
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]+):(?P<line>\d+)\)$")


def _line_stage(frames: list[str], cache: dict[tuple[str, int], str]) -> str | None:
    """The stage of a sample whose innermost frame is a line of ours that calls C, by that line's text."""
    m = _FRAME.match(frames[-1])
    if m is None:
        return None
    path = ROOT / m["file"] if not os.path.isabs(m["file"]) else Path(m["file"])
    if ROOT not in path.parents or ".venv" in path.parts:
        return None
    key = (str(path), int(m["line"]))
    if key not in cache:
        try:
            cache[key] = path.read_text().splitlines()[key[1] - 1]
        except (OSError, IndexError):
            cache[key] = ""
    return next((stage for text, stage in LINES if text in cache[key]), None)


def _wrapper(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, pats in WRAPPERS:
            if any(p in frame for p in pats):
                return name
    return OTHER


def classify(collapsed: str) -> collections.Counter[str]:
    """Samples per stage from py-spy's collapsed stacks (`frame;frame;... count` per line)."""
    out: collections.Counter[str] = collections.Counter()
    lines: dict[tuple[str, int], str] = {}
    for row in collapsed.splitlines():
        stack, _, count = row.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if frames[-1].startswith(IDLE):
            continue
        stage = LOOP if frames[-1].startswith("Runner.run (") else _line_stage(frames, lines)
        if stage is None:
            stage = next((name for name, pats in STAGES if any(p in stack for p in pats)), None)
        if stage is None:
            stage = _wrapper(frames)
        out[stage] += int(count)
    return out


def main() -> int:
    """Profile, write the flame graph and print the stage table."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=float, default=500, help="requests per second (default 500)")
    p.add_argument("--duration", type=float, default=10, help="seconds sampled (default 10)")
    p.add_argument("--batch-size", type=int, default=1, help="events per request (>1: /v1/decide/batch)")
    p.add_argument("--out", type=Path, default=ROOT / "var" / "profile", help="where the SVG and stacks go")
    a = p.parse_args()
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not on PATH: pip install py-spy (it is not a project dependency)")

    a.out.mkdir(parents=True, exist_ok=True)
    with demo_server("fraudgate-profile-", FRAUDGATE_WORKERS="1") as served:
        url, server = served.url, served.server
        out_json = str(served.work / "load.json")
        load = [PY, "-m", "loadtest", "--url", url, "--api-key", served.key, "--events", str(served.events),
                "--rate", str(a.rate), "--warmup", "3", "--no-progress", "--json", out_json]  # fmt: skip
        if a.batch_size > 1:
            load += ["--batch-size", str(a.batch_size)]
        warm = subprocess.run([*load, "--duration", "4"], cwd=ROOT, check=False, capture_output=True)
        if warm.returncode != 0:
            raise SystemExit(f"warm-up load failed: {warm.stderr.decode()[-2000:]}")
        driver = subprocess.Popen([*load, "--duration", str(a.duration + 6)], cwd=ROOT)
        # sample the middle of the run: after the generator's warm-up, before its end
        subprocess.run(["sleep", "4"], check=True)
        before = cpu_seconds(server.pid), answered(url, "/v1/decide", prefix=True)
        ticks_before = _user_system(server.pid)
        record = [spy, "record", "--pid", str(server.pid), "--rate", str(SAMPLE_HZ), "--format", "raw",
                  "--duration", str(int(a.duration)), "--output", str(a.out / "profile.txt")]  # fmt: skip
        done = subprocess.run(record, check=False, capture_output=True)
        if done.returncode != 0:
            raise SystemExit(f"py-spy failed: {done.stderr.decode()[-2000:]}")
        after = cpu_seconds(server.pid), answered(url, "/v1/decide", prefix=True)
        ticks_after = _user_system(server.pid)
        svg = [spy, "record", "--pid", str(server.pid), "--nonblocking", "--rate", "250", "--duration", "2",
               "--output", str(a.out / "profile.svg")]  # fmt: skip
        subprocess.run(svg, check=False, capture_output=True)
        driver.wait(timeout=a.duration + 60)
    requests = max(after[1] - before[1], 1)
    cpu_us = (after[0] - before[0]) * 1e6 / requests
    per = "request" if a.batch_size == 1 else f"request of {a.batch_size} events"
    counts = classify((a.out / "profile.txt").read_text())
    # py-spy leaves out idle threads, but it does not see uvloop's epoll_wait (C, under `Runner.run`) as idle: the
    # samples beyond what /proc says the process ran are the loop waiting, and come off the loop's count
    busy = round((after[0] - before[0]) * SAMPLE_HZ)
    idle = min(max(sum(counts.values()) - busy, 0), counts.get(LOOP, 0))
    counts[LOOP] -= idle
    total = sum(counts.values()) or 1
    print(f"{idle} samples of uvloop waiting in epoll removed (busy: {busy} samples by /proc)")
    print(f"\n{requests} requests sampled at {a.rate:.0f}/s; server CPU {cpu_us:,.0f} µs per {per} (/proc)")
    user, system = (ticks_after[i] - ticks_before[i] for i in (0, 1))
    print(f"of which in the kernel (system time, /proc/PID/stat): {system / max(user + system, 1):.0%}")
    print(f"flame graph: {a.out / 'profile.svg'}; collapsed stacks: {a.out / 'profile.txt'}\n")
    print("| stage | share | µs/request |")
    print("|---|---:|---:|")
    for name in [s for s, _ in STAGES + WRAPPERS] + [LOOP, OTHER]:
        share = counts.get(name, 0) / total
        print(f"| {name} | {share:.1%} | {share * cpu_us:,.0f} |")
    print(f"| **server CPU per {per} (`/proc`)** | | **{cpu_us:,.0f}** |")
    return 0


def _user_system(pid: int) -> tuple[int, int]:
    """User and system CPU ticks of `pid` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]), int(fields[12])


if __name__ == "__main__":
    raise SystemExit(main())
