"""The report has every field the issue names; errors by status and kind; the live line sees a stall as it happens."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

import loadtest.session as session
from loadtest.bodies import http_request
from loadtest.cli import main
from loadtest.hdr import Histogram
from loadtest.runner import LiveLine
from loadtest.session import Options, _target
from loadtest.stub import StallState, StubServer
from loadtest.worker import ProgressDelta, ShardSpec, run_shard

FAST = ["--duration", "0.5", "--warmup", "0.1", "--rate", "100", "--no-progress"]
ISSUE_FIELDS = {
    "target_rate", "achieved_rate", "duration_s", "latency_ms", "errors", "late_sends", "actions", "stages",
    "filter_ratio", "per_rule", "degraded", "sla_met",
}  # fmt: skip


def test_json_has_every_field_the_issue_names(tmp_path: Path) -> None:
    with StubServer() as stub:
        code = main(["--url", stub.url, "--sla-p99-ms", "5000", "--json", str(tmp_path / "r.json"), *FAST])
    doc = json.loads((tmp_path / "r.json").read_text())
    assert code == 0
    assert set(doc) >= ISSUE_FIELDS
    assert {"p50", "p90", "p99", "p999", "max"} <= set(doc["latency_ms"])
    assert doc["latency_ms"]["p50"] <= doc["latency_ms"]["p90"] <= doc["latency_ms"]["p99"]
    assert doc["latency_ms"]["p99"] <= doc["latency_ms"]["p999"] <= doc["latency_ms"]["max"]
    assert doc["errors"] == {"by_status": {}, "by_kind": {}, "total": 0}
    assert (doc["target_rate"], doc["duration_s"], doc["sla_met"]) == (100.0, 0.5, True)
    assert 0 <= doc["late_sends"] <= 50
    assert sum(doc["stages"].values()) == sum(doc["actions"].values()) == doc["decisions"] == 50
    assert sum(doc["per_rule"].values()) == doc["stages"].get("pre_policy", 0)  # the stub's rule: amount < 100
    assert doc["filter_ratio"] == round(doc["stages"].get("pre_policy", 0) / 50, 6)
    assert sum(c for _, _, c in doc["latency_histogram"]) == doc["count"] == 50


def test_http_errors_are_counted_by_status_and_kind_and_fail_the_run(tmp_path: Path) -> None:
    with StubServer() as stub:
        code = main(["--url", stub.url, "--path", "/status/503", "--json", str(tmp_path / "r.json"), *FAST])
    doc = json.loads((tmp_path / "r.json").read_text())
    assert code == 1  # not one 2xx answer
    assert doc["errors"] == {"by_status": {"503": 50}, "by_kind": {"http_5xx": 50}, "total": 50}
    assert doc["status"] == {"503": 50}
    assert doc["passed"] is False


def test_live_progress_sees_the_stall_while_the_run_goes_on() -> None:
    with StubServer(StallState(stall_after_s=0.3, stall_s=0.8)) as stub:
        host, port, header = _target(stub.url)
        n = 300  # 200/s over 1.5 s
        spec = ShardSpec(
            host=host, port=port, requests=[http_request("GET", "/stall", header, None, None)] * n,
            offsets=[i / 200 for i in range(n)], measured_from=0.0, max_connections=500, warm_connections=8,
            timeout_s=5.0, decisions="none",
        )  # fmt: skip
        live = LiveLine(total_s=1.5, measured_from=0.0, enabled=False)
        deltas: list[ProgressDelta] = []

        def on_progress(delta: ProgressDelta) -> None:
            deltas.append(delta)
            live.add(delta)

        result = run_shard(spec, lambda: live.started(time.monotonic() + 0.05), on_progress)
    assert len(deltas) >= 3  # twice a second, and a last one at the end
    assert sum(d.finished for d in deltas) == n == result.tally.answered
    assert live.latency.total == n
    assert live.latency.percentile_ms(99.0) >= 700.0
    line = live.line()
    assert "rate" in line
    assert "errors 0" in line
    assert "p99" in line and float(line.split("p99")[1].split()[0]) >= 700.0


def test_live_line_reports_rate_and_errors() -> None:

    live = LiveLine(total_s=10.0, measured_from=2.0, enabled=False)
    live.started(100.0)
    live.line(now=100.5)
    hist = Histogram()
    hist.record(np.asarray([0.002] * 98 + [0.5, 0.6]))
    live.add(ProgressDelta(due=110, finished=100, errors=3, latency=hist))
    line = live.line(now=101.5)
    assert line.startswith("[   1.5/10.0 s warm-up]")
    assert "rate    100.0/s" in line
    assert "errors 3" in line
    assert "p99   500.22 ms" in line or "p99   50" in line


@pytest.mark.parametrize("processes", ["1", "2"])
def test_progress_enabled_run_still_reports(processes: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with StubServer() as stub:
        code = main(["--url", stub.url, "--path", "/healthz", "--duration", "0.6", "--warmup", "0", "--rate", "100",
                     "--processes", processes, "--json", str(tmp_path / "r.json")])  # fmt: skip
    assert code == 0
    assert json.loads((tmp_path / "r.json").read_text())["ok"] == 60


def test_find_max_writes_the_curve_to_json_and_html(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session, "sustainable", lambda r: r.target_rate < 300)  # a knee at 300/s, whatever the load
    monkeypatch.setattr(session.time, "sleep", lambda s: None)
    with StubServer() as stub:
        code = main(["--url", stub.url, "--path", "/healthz", "--find-max", "--sla-p99-ms", "1000", "--duration",
                     "0.3", "--warmup", "0", "--rate", "100", "--no-progress", "--json", str(tmp_path / "r.json"),
                     "--html", str(tmp_path / "r.html")])  # fmt: skip
    doc = json.loads((tmp_path / "r.json").read_text())
    assert code == 0
    rates = [p["target_rate"] for p in doc["curve"]]
    assert rates == sorted(rates)
    assert 225.0 <= doc["max_sustainable_rate"] < 300.0
    assert all(set(p) >= {"target_rate", "p99_ms", "sustainable"} for p in doc["curve"])
    page = (tmp_path / "r.html").read_text()
    assert 'alt="capacity curve"' in page
    assert "Highest sustainable rate" in page


def test_options_default_matches_the_issue_flags() -> None:
    assert Options().sla_p99_ms is None
