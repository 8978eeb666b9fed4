"""The command line: every option parses, bad values fail fast, the SLA verdict sets the exit code, reports exist."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import polars as pl
import pytest

from loadtest.cli import main, parse_options
from loadtest.report import Errors, Latency, Report, RunInfo
from loadtest.session import BATCH_PATH, Options, Search, find_max
from loadtest.stub import StubServer

FAST = ["--duration", "0.5", "--warmup", "0.1", "--rate", "100", "--no-progress"]


def test_every_option_parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDGATE_API_KEY", "from-env")
    argv = [
        "--url", "http://engine:9000", "--path", "/v1/decide", "--rate", "250.5", "--duration", "30",
        "--warmup", "3", "--sla-p99-ms", "50", "--api-key", "k1", "--json", str(tmp_path / "r.json"),
        "--html", str(tmp_path / "r.html"), "--seed", "9", "--batch-size", "20", "--arrivals", "poisson",
        "--processes", "2", "--events", str(tmp_path / "e.parquet"), "--find-max", "--timeout", "2",
        "--late-ms", "1.5", "--max-connections", "300", "--no-progress",
    ]  # fmt: skip
    opts = parse_options(argv)
    assert opts == Options(
        url="http://engine:9000", path="/v1/decide", rate=250.5, duration=30.0, warmup=3.0, sla_p99_ms=50.0,
        api_key="k1", json=tmp_path / "r.json", html=tmp_path / "r.html", seed=9, batch_size=20,
        arrivals="poisson", processes=2, events=tmp_path / "e.parquet", find_max=True, timeout=2.0, late_ms=1.5,
        max_connections=300, progress=False,
    )  # fmt: skip
    assert opts.effective_path == BATCH_PATH
    assert opts.decisions == "batch"


def test_defaults_and_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDGATE_API_KEY", "from-env")
    opts = parse_options([])
    assert (opts.url, opts.path, opts.arrivals, opts.processes, opts.batch_size) == (
        "http://127.0.0.1:8000", "/v1/decide", "constant", 1, 1,
    )  # fmt: skip
    assert opts.api_key == "from-env"
    assert parse_options(["--path", "/healthz"]).decisions == "none"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate", "0"], "--rate must be > 0"),
        (["--processes", "0"], "--processes must be >= 1"),
        (["--find-max"], "--find-max needs --sla-p99-ms"),
        (["--url", "https://x"], "https is not supported"),
    ],
)
def test_bad_options_exit_2_naming_the_flag(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_arrivals_is_an_argparse_error() -> None:
    with pytest.raises(SystemExit) as exc:
        parse_options(["--arrivals", "bursty"])
    assert exc.value.code == 2


def test_sla_breach_exits_1_with_a_fail_line(capsys: pytest.CaptureFixture[str]) -> None:
    with StubServer() as stub:
        code = main(["--url", stub.url, "--path", "/healthz", "--sla-p99-ms", "0.001", *FAST])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL: p99" in out
    assert "vs SLA 0.001 ms" in out


def test_pass_writes_json_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with StubServer() as stub:
        code = main(
            [
                "--url",
                stub.url,
                "--path",
                "/healthz",
                "--sla-p99-ms",
                "5000",
                "--arrivals",
                "poisson",
                *FAST,
                "--json",
                str(tmp_path / "r.json"),
                "--html",
                str(tmp_path / "r.html"),
            ]
        )
    assert code == 0
    assert "PASS: p99" in capsys.readouterr().out
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["run"]["method"] == "GET"
    assert doc["ok"] == doc["count"] > 0
    assert doc["status"] == {"200": doc["count"]}
    assert set(doc["latency_ms"]) == {"p50", "p90", "p99", "p999", "max", "mean"}
    page = (tmp_path / "r.html").read_text()
    assert page.count("data:image/png;base64,") == 3  # over time, histogram, by percentile
    assert "Pre-policies" not in page  # a GET run has no decisions


def _events(path: Path, n: int = 7) -> Path:
    pl.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "event_type": ["card_payment"] * n,
            "occurred_at": [datetime(2026, 11, 22, 10, 0, i, tzinfo=UTC) for i in range(n)],
            "card_id": [f"card-{i % 3}" for i in range(n)],
            "amount": [12.5 + 50 * i for i in range(n)],  # the stub takes the first two (< 100) by pre-policy
            "is_fraud": [False] * n,
            "typology": [None] * n,
        }
    ).write_parquet(path)
    return path


@pytest.mark.parametrize("batch", ["1", "3"])
def test_decide_replay_counts_stages_actions_and_degraded(
    tmp_path: Path, batch: str, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _events(tmp_path / "e.parquet")
    with StubServer() as stub:
        code = main(
            [
                "--url",
                stub.url,
                "--events",
                str(events),
                "--batch-size",
                batch,
                "--json",
                str(tmp_path / "r.json"),
                *FAST,
            ]
        )
    assert code == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["run"]["url"].endswith("/v1/decide/batch" if batch == "3" else "/v1/decide")
    b = int(batch)
    # Requests 10.. are measured (0.1 s warm-up at 100/s); event k of the cycle of 7 is filtered when k % 7 < 2.
    sent = [(i * b + j) % 7 for i in range(10, 10 + doc["count"]) for j in range(b)]
    filtered = sum(k < 2 for k in sent)
    assert doc["stages"] == {"model": len(sent) - filtered, "pre_policy": filtered}
    assert doc["per_rule"] == {"stub_small_amount": filtered}
    assert doc["filter_ratio"] == round(filtered / len(sent), 6)
    assert doc["actions"] == {"approve": len(sent)}
    assert doc["decisions"] == len(sent)
    assert doc["degraded"] == 0
    assert doc["unparsed"] == 0
    assert "per rule      stub_small_amount" in capsys.readouterr().out


def test_nothing_listening_exits_2_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        code = main(["--url", f"http://127.0.0.1:{port}", "--path", "/healthz", "--json", str(tmp_path / "r.json"),
                     *FAST])  # fmt: skip
    assert code == 2
    assert f"error: cannot connect to 127.0.0.1:{port}" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def _fake_report(rate: float, ok: bool) -> Report:
    lat = Latency(p50=1.0, p90=1.0, p99=10.0 if ok else 100.0, p999=1.0, max=1.0, mean=1.0)
    info = RunInfo(run_id="r", method="GET", url="u", arrivals="constant", rate=rate, duration_s=1.0, warmup_s=0.0,
                   batch_size=1, processes=1, late_threshold_ms=5.0, sla_p99_ms=50.0)  # fmt: skip
    return Report(
        run=info, count=100, ok=100, errors=Errors({}, {}, 0), late_sends=0, send_lag_ms=lat, target_rate=rate,
        achieved_rate=rate, response_rate=rate, duration_s=1.0, latency_ms=lat, service_ms=lat, status={}, stages={},
        actions={}, filter_ratio=None, per_rule={}, degraded=0, decisions=0, unparsed=0, generator_cpu_pct=1.0,
        sla_met=ok, filter_ratio_met=None, passed=ok, latency_histogram=[],
    )  # fmt: skip


def test_find_max_steps_up_then_bisects(monkeypatch: pytest.MonkeyPatch) -> None:
    capacity = 1000.0
    seen: list[float] = []

    def fake_run_once(opts: Options, rate: float, events: object = None) -> tuple[Report, object]:
        seen.append(rate)
        return _fake_report(rate, rate <= capacity), None

    monkeypatch.setattr("loadtest.session.run_once", fake_run_once)
    monkeypatch.setattr("loadtest.session.time.sleep", lambda s: None)
    search: Search = find_max(Options(path="/healthz", rate=100.0, sla_p99_ms=50.0), log=lambda line: None)
    assert search.best is not None
    best = search.best[0].target_rate
    assert capacity / 1.5 < best <= capacity
    assert search.max_rate == best
    curve = search.curve
    assert [p.target_rate for p in curve] == sorted(seen)
    assert [p.sustainable for p in curve] == [r <= capacity for r in sorted(seen)]
    assert seen[:6] == pytest.approx([100 * 1.5**k for k in range(6)])
    assert len(seen) == 6 + 1 + 2  # up to the first failure (1139), then two bisection steps
    assert msgspec.json.decode(msgspec.json.encode(search.steps))[0]["target_rate"] == 100.0


def test_two_worker_processes_share_the_schedule(tmp_path: Path) -> None:
    with StubServer() as stub:
        code = main(["--url", stub.url, "--path", "/healthz", "--processes", "2", "--json", str(tmp_path / "r.json"),
                     *FAST])  # fmt: skip
    doc = json.loads((tmp_path / "r.json").read_text())
    assert code == 0
    assert doc["count"] == 50  # 100/s over 0.5 s, both workers' samples merged
    assert doc["ok"] == 50
    assert doc["run"]["processes"] == 2
    assert doc["generator_cpu_pct"] > 0
