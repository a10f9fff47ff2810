"""`business-api demo`, run as a user runs it: a process, a port, a printed key."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.server.documents import EXAMPLE_QUERY


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command() -> list[str]:
    script = Path(sys.executable).with_name("business-api")
    return [str(script)] if script.exists() else [sys.executable, "-m", "server.cli"]


def _start_demo(tmp_path: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BUSINESS_API_")}
    process = subprocess.Popen(
        [*_command(), "demo", "--port", str(port), "--database", str(tmp_path / "demo.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environ,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    output = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        output.append(line)
        if match := re.match(r"API key: (sk_\S+)$", line.strip()):
            return process, match.group(1)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError("the demo printed no key:\n" + "".join(output))


def _wait_until_serving(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the demo did not start serving")


def test_the_demo_serves_the_documents_query_with_the_key_it_prints(tmp_path: Path) -> None:
    port = _free_port()
    process, key = _start_demo(tmp_path, port)
    try:
        _wait_until_serving(port)
        response = httpx.post(
            f"http://127.0.0.1:{port}/@tremble/api/graphql",
            json={"query": EXAMPLE_QUERY},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        business = body["data"]["activeBusiness"]
        assert business["name"] == "Tremble Studios"
        assert len(business["participants"]["nodes"]) == 25
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_running_the_demo_again_reuses_the_store_and_mints_a_new_key(tmp_path: Path) -> None:
    keys = []
    for _ in range(2):
        port = _free_port()
        process, key = _start_demo(tmp_path, port)
        try:
            _wait_until_serving(port)
            response = httpx.post(
                f"http://127.0.0.1:{port}/@tremble/api/graphql",
                json={"query": "{ activeBusiness { id participants(first: 1) { nodes { id } } } }"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            keys.append((key, response.json()["data"]["activeBusiness"]))
        finally:
            process.terminate()
            process.wait(timeout=15)
    (first_key, first), (second_key, second) = keys
    assert first_key != second_key
    assert first["id"] == second["id"]
    assert first["participants"]["nodes"] == second["participants"]["nodes"]
