"""`python -m loadtest` against `wrk` on the same endpoint in the same run, and the generator's own ceiling.

    .venv/bin/python benchmarks/loadtest_vs_wrk.py [--duration 5] [--out results.json]

It starts the stub server (`python -m loadtest.stub`, one uvloop process) on a free port and measures, in order:

1. `GET /healthz` and `POST /v1/decide` with wrk (closed loop: each of its connections sends the next request only
   when the previous answer is in), then with this tool at a fixed `--rate` (open loop);
2. a server that stalls once for 1 s (`/stall`), with both tools: the coordinated-omission demonstration;
3. `--find-max` against `/healthz` with 1 and 2 generator processes: the highest rate this generator drives.

wrk2 (constant-throughput wrk, latency from the intended send time) is not packaged by Debian and is not used.
Figures are printed as Markdown and written as JSON (`--out`) for docs/benchmarks/loadtest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
EVENT = (
    '{"event_id":"wrk-1","event_type":"card_payment","occurred_at":"2026-11-22T10:00:00Z","card_id":"card-123",'
    '"customer_id":"cus-9","merchant_id":"mer-7","mcc":"5411","amount":120.5,"currency":"BRL","country":"BR",'
    '"channel":"ecommerce","device_id":"dev-1","ip":"203.0.113.7"}'
)
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stub:
    """`python -m loadtest.stub` in a child process."""

    def __init__(self, *extra: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [PY, "-m", "loadtest.stub", "--port", str(self.port), *extra], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # "stub listening on ...", printed before it listens: wait for a connection
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

    def __enter__(self) -> Stub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, duration: float, connections: int, script: Path | None) -> dict[str, Any]:
    """Run wrk (1 thread) and parse throughput and its latency percentiles (ms)."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "5s"]
    cmd += ["-s", str(script)] if script else []
    cmd.append(url)
    print("$", " ".join(cmd), flush=True)
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"wrk failed ({run.returncode}): {run.stdout}{run.stderr}")
    out = run.stdout
    pct = {f"p{m.group(1)}": _ms(m.group(2)) for m in re.finditer(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    mx = _ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    return {"command": " ".join(cmd), "requests_per_s": rps, "latency_ms": {**pct, "max": mx}}


def loadtest(url: str, args: list[str]) -> dict[str, Any]:
    """Run `python -m loadtest` and return its JSON report (plus the command and exit code)."""
    with tempfile.TemporaryDirectory(prefix="lt-vs-wrk-") as tmp:
        out = Path(tmp) / "r.json"
        cmd = [PY, "-m", "loadtest", "--url", url, "--no-progress", "--json", str(out), *args]
        print("$", " ".join(cmd[1:]).replace(str(out), "r.json"), flush=True)
        code = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False).returncode
        doc: dict[str, Any] = json.loads(out.read_text())
    doc["command"] = "python " + " ".join(cmd[1:]).replace(str(out), "r.json")
    doc["exit_code"] = code
    return doc


def _cpu_s() -> float:
    t = os.times()
    return t.children_user + t.children_system


def main() -> int:
    """Run everything and print the Markdown tables."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    p.add_argument("--connections", type=int, default=16, help="wrk connections")
    p.add_argument("--rate", type=float, default=5000, help="open-loop rate of this tool, per second")
    p.add_argument("--find-max-from", type=float, default=1000, help="first rate of the capacity search")
    p.add_argument("--out", type=Path, default=None, help="write all figures as JSON here")
    a = p.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    results: dict[str, Any] = {"cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg()}
    common = ["--duration", str(a.duration), "--warmup", "1"]
    with tempfile.TemporaryDirectory(prefix="lt-vs-wrk-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(
            f"wrk.method = 'POST'\nwrk.body = '{EVENT}'\nwrk.headers['Content-Type'] = 'application/json'\n"
        )
        with Stub() as stub:
            for name, path, lua, extra in (
                ("healthz", "/healthz", None, ["--path", "/healthz"]),
                ("decide", "/v1/decide", script, ["--path", "/v1/decide"]),
            ):
                w = wrk(stub.url + path, a.duration, a.connections, lua)
                mine = loadtest(stub.url, [*extra, "--rate", f"{a.rate:g}", *common])
                results[name] = {"wrk": w, "loadtest": mine}
        # The stall: 1 s after the first /stall request, the server blocks for 1 s, once.
        with Stub("--stall-after-s", "1", "--stall-s", "1") as stub:
            results["stall_wrk"] = wrk(stub.url + "/stall", a.duration, a.connections, None)
        with Stub("--stall-after-s", "1", "--stall-s", "1") as stub:
            results["stall_loadtest"] = loadtest(stub.url, ["--path", "/stall", "--rate", "1000", "--duration",
                                                            str(a.duration), "--warmup", "0"])  # fmt: skip
        # The generator's ceiling against the trivial endpoint, 1 and 2 processes.
        for procs in (1, 2):
            with Stub() as stub:
                cpu0 = _cpu_s()
                args = ["--path", "/healthz", "--find-max", "--sla-p99-ms", "10", "--rate", f"{a.find_max_from:g}"]
                args += ["--duration", "3"]
                search = loadtest(stub.url, [*args, "--warmup", "0.5", "--processes", str(procs)])
                results[f"find_max_{procs}p"] = {
                    "max_sustainable_rate": search.get("max_sustainable_rate"),
                    "curve": search.get("curve"),
                    "command": search["command"],
                    "generator_cpu_pct_at_best": next(
                        (s["generator_cpu_pct"] for s in search["steps"]
                         if s["target_rate"] == search.get("max_sustainable_rate")), None),
                    "children_cpu_s": round(_cpu_s() - cpu0, 2),
                }  # fmt: skip
    results["loadavg_at_end"] = os.getloadavg()
    _print(results)
    if a.out is not None:
        a.out.write_text(json.dumps(results, indent=2))
    return 0


def _print(r: dict[str, Any]) -> None:
    print("\n| endpoint | tool | rate /s | p50 ms | p90 ms | p99 ms | max ms | errors | generator CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in ("healthz", "decide"):
        w, m = r[name]["wrk"], r[name]["loadtest"]
        wl, ml = w["latency_ms"], m["latency_ms"]
        print(f"| {name} | wrk (closed loop) | {w['requests_per_s']:.0f} | {wl['p50']:.3f} | {wl['p90']:.3f} | "
              f"{wl['p99']:.3f} | {wl['max']:.3f} | - | - |")  # fmt: skip
        print(f"| {name} | loadtest (open loop) | {m['achieved_rate']:.0f} | {ml['p50']:.3f} | {ml['p90']:.3f} | "
              f"{ml['p99']:.3f} | {ml['max']:.3f} | {m['errors']['total']} | "
              f"{m['generator_cpu_pct']:.0f} % |")  # fmt: skip
    sw, sl = r["stall_wrk"], r["stall_loadtest"]
    print("\n| 1 s stall | rate /s | p50 ms | p90 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    print(f"| wrk | {sw['requests_per_s']:.0f} | {sw['latency_ms']['p50']:.2f} | {sw['latency_ms']['p90']:.2f} | "
          f"{sw['latency_ms']['p99']:.2f} | {sw['latency_ms']['max']:.2f} |")  # fmt: skip
    for label, lat in (
        ("loadtest, from intended send", sl["latency_ms"]),
        ("loadtest, service time", sl["service_ms"]),
    ):
        print(f"| {label} | {sl['achieved_rate']:.0f} | {lat['p50']:.2f} | {lat['p90']:.2f} | {lat['p99']:.2f} | "
              f"{lat['max']:.2f} |")  # fmt: skip
    for procs in (1, 2):
        f = r[f"find_max_{procs}p"]
        print(f"\nfind-max, {procs} process(es): {f['max_sustainable_rate']} /s, generator CPU at that step "
              f"{f['generator_cpu_pct_at_best']} % of one core")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
