"""Deployment files: every YAML/JSON under deploy/ parses, and the facts that matter hold (probes, secrets, non-root,
replicas, scrape targets, dashboard queries on metric names the engine really exports)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _k8s() -> dict[tuple[str, str], dict[str, Any]]:
    docs = [d for p in sorted(K8S.glob("*.yaml")) for d in _docs(p) if d["kind"] != "Kustomization"]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_every_yaml_and_json_file_parses() -> None:
    files = [*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.json"), ROOT / "docker-compose.yml"]
    assert len(files) >= 8
    for path in files:
        if path.suffix == ".json":
            json.loads(path.read_text())
        else:
            assert _docs(path), path


def test_kubernetes_deployment_facts() -> None:
    objects = _k8s()
    kinds = {kind for kind, _ in objects}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "Secret"} <= kinds
    pod = objects[("Deployment", "fraudgate")]["spec"]["template"]["spec"]
    (engine,) = pod["containers"]
    assert engine["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert engine["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(engine["resources"]["requests"]) and engine["resources"]["limits"]
    env = {e["name"]: e for e in engine["env"]}
    assert env["FRAUDGATE_REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"] == "fraudgate"
    assert env["FRAUDGATE_PAN_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "fraudgate"
    assert "FRAUDGATE_API_KEYS" not in env  # keys come from the mounted Secret file (rotation without restart)
    keys_volume = next(v for v in pod["volumes"] if v["name"] == "api-keys")
    assert keys_volume["secret"]["secretName"] == "fraudgate"
    mounts = {m["name"]: m["mountPath"] for m in engine["volumeMounts"]}
    assert env["FRAUDGATE_API_KEYS_FILE"]["value"].startswith(mounts["api-keys"])
    assert env["FRAUDGATE_POLICY_DIR"]["value"] == mounts["policies"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert engine["securityContext"]["allowPrivilegeEscalation"] is False
    hpa = objects[("HorizontalPodAutoscaler", "fraudgate")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "fraudgate" and hpa["minReplicas"] >= 2
    pdb = objects[("PodDisruptionBudget", "fraudgate")]["spec"]
    assert pdb["minAvailable"] < hpa["minReplicas"]
    selector = objects[("Service", "fraudgate")]["spec"]["selector"]
    assert selector.items() <= objects[("Deployment", "fraudgate")]["spec"]["template"]["metadata"]["labels"].items()


def test_policy_configmap_is_the_served_policy() -> None:
    data = _k8s()[("ConfigMap", "fraudgate-policies")]["data"]
    assert data["card_payment.yaml"] == (ROOT / "policies" / "card_payment.yaml").read_text()


def test_example_secret_holds_no_plain_api_key() -> None:
    secret = _k8s()[("Secret", "fraudgate")]["stringData"]
    for line in filter(None, secret["api-keys"].splitlines()):
        assert re.fullmatch(r"[\w.-]+:sha256:[0-9a-f]{64}:[a-z+]+", line), line


def test_compose_facts() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    engines = [name for name, s in services.items() if s.get("image") == "fraudgate:local"]
    assert len(engines) >= 2
    assert {"redis", "prometheus", "grafana"} <= set(services)
    assert "--appendonly" in services["redis"]["command"]
    scrape = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    targets = {t for job in scrape["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"{name}:8000" for name in engines}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile and "uv sync --frozen" in dockerfile
    assert re.search(r"^USER (?!root|0)", dockerfile, flags=re.M) and '"fraudgate", "serve"' in dockerfile


def test_dashboard_queries_use_exported_metric_names() -> None:
    exported = {m.name for m in Metrics().registry.collect()}
    samples = {s.name for m in Metrics().registry.collect() for s in m.samples} | {
        f"{name}{suffix}" for name in exported for suffix in ("_total", "_bucket", "_count", "_sum")
    }
    dashboard = json.loads((DEPLOY / "grafana" / "fraudgate.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for e in exprs for name in re.findall(r"\bfraudgate_\w+", e)}
    assert used and used <= samples, sorted(used - samples)
    wanted = ("fraudgate_decisions_total", "fraudgate_decision_seconds_bucket", "fraudgate_degraded_total",
              "fraudgate_redis_circuit_open", "fraudgate_rule_hits_total")  # fmt: skip
    assert set(wanted) <= used
    assert any("0.99" in e and "stage" in e for e in exprs) and any("0.5," in e and "stage" in e for e in exprs)


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (Debian package) is not installed")
def test_docker_compose_config_validates() -> None:
    out = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        env={"FRAUDGATE_API_KEYS": "payments:change-me:decide", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) is not installed")
def test_prometheus_config_validates() -> None:
    out = subprocess.run(
        ["promtool", "check", "config", "--syntax-only", str(DEPLOY / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
