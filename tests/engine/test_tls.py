"""HTTPS with a certificate and key from the environment (a throwaway self-signed certificate)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command makes the throwaway certificate")
def test_serves_https_with_a_throwaway_certificate(serve_process: Any, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    with serve_process("https", FRAUDGATE_TLS_CERT=str(cert), FRAUDGATE_TLS_KEY=str(key)) as (_, url):
        context = ssl.create_default_context(cafile=str(cert))
        r = httpx.get(url + "/healthz", verify=context, timeout=5)
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not served on the TLS port
            httpx.get(url.replace("https", "http") + "/healthz", timeout=2)
        with pytest.raises(httpx.ConnectError):  # and the certificate is really checked
            httpx.get(url + "/healthz", timeout=2)


def test_tls_settings_fail_fast(tmp_path: Path) -> None:
    from engine.errors import ConfigError
    from engine.settings import Settings

    with pytest.raises(ConfigError, match="FRAUDGATE_TLS_CERT and FRAUDGATE_TLS_KEY go together"):
        Settings.from_env({"FRAUDGATE_TLS_CERT": str(tmp_path / "c.pem")})
    (tmp_path / "c.pem").write_text("x")
    with pytest.raises(ConfigError, match=r"FRAUDGATE_TLS_KEY names .* not a readable file"):
        Settings.from_env({"FRAUDGATE_TLS_CERT": str(tmp_path / "c.pem"), "FRAUDGATE_TLS_KEY": str(tmp_path / "k")})
