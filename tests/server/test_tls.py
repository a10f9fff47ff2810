"""`serve --ssl-certfile/--ssl-keyfile`: the API over HTTPS without a proxy, its certificate
verified by a client that trusts the issuing CA (a test CA from `trustme`)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import trustme

from server.store.database import create_engine, migrate
from tests.live import _command, _environ, _stop, free_port

pytestmark = pytest.mark.subprocess


def _migrated(path: Path) -> str:
    url = f"sqlite+aiosqlite:///{path}"

    async def run() -> None:
        engine = create_engine(url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    return url


def test_serve_answers_over_https_with_a_certificate_the_client_verifies(tmp_path: Path) -> None:
    authority = trustme.CA(organization_name="business-api tests")
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = (tmp_path / n for n in ("cert.pem", "key.pem", "ca.pem"))
    certificate.cert_chain_pems[0].write_to_path(cert_file)
    for pem in certificate.cert_chain_pems[1:]:
        pem.write_to_path(cert_file, append=True)
    certificate.private_key_pem.write_to_path(key_file)
    authority.cert_pem.write_to_path(ca_file)
    settings = {
        "BUSINESS_API_DATABASE_URL": _migrated(tmp_path / "store.db"),
        "BUSINESS_API_SECRET_KEY": "tls-test-secret-key-0123456789abcdef",
    }
    port = free_port()
    process = subprocess.Popen(
        [*_command(), "serve", "--port", str(port)]
        + ["--ssl-certfile", str(cert_file), "--ssl-keyfile", str(key_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_environ(settings),
    )
    url = f"https://127.0.0.1:{port}/healthz"
    trusting = ssl.create_default_context(cafile=str(ca_file))
    try:
        answer = None
        deadline = time.monotonic() + 30
        while answer is None and time.monotonic() < deadline:
            try:
                answer = httpx.get(url, verify=trusting)
            except httpx.ConnectError:
                assert process.poll() is None, "serve exited"
                time.sleep(0.1)
        assert answer is not None and answer.status_code == 200
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url)  # the system's CAs do not know the test CA
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz")  # no plain HTTP on that port
    finally:
        _stop(process)


def test_a_certificate_without_its_key_is_refused_in_one_line(tmp_path: Path) -> None:
    cert_file = tmp_path / "cert.pem"
    trustme.CA().issue_cert("127.0.0.1").cert_chain_pems[0].write_to_path(cert_file)
    done = subprocess.run(
        [*_command(), "serve", "--ssl-certfile", str(cert_file)],
        capture_output=True,
        text=True,
        env=_environ({"BUSINESS_API_SECRET_KEY": "tls-test-secret-key-0123456789abcdef"}),
        timeout=60,
    )
    assert done.returncode == 2
    assert "--ssl-certfile and --ssl-keyfile go together" in done.stderr
    assert "Traceback" not in done.stderr
