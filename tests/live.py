"""A real `business-api demo` process on a free port, for tests that need a socket
(the browser, the GraphQL-over-HTTP audit, the demo itself)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class LiveDemo:
    process: subprocess.Popen[str]
    key: str
    base_url: str

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/@tremble/api/graphql"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command() -> list[str]:
    script = Path(sys.executable).with_name("business-api")
    return [str(script)] if script.exists() else [sys.executable, "-m", "server.cli"]


def _read_key(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    output = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        output.append(line)
        if match := re.match(r"API key: (sk_\S+)$", line.strip()):
            return match.group(1)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError("the demo printed no key:\n" + "".join(output))


def _wait_until_serving(base_url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the demo did not start serving")


def _environ(settings: dict[str, str]) -> dict[str, str]:
    """This process's environment with only the given BUSINESS_API_* settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BUSINESS_API_")}
    environ.update(settings)
    return environ


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def running_demo(database_dir: Path, settings: dict[str, str] | None = None) -> Iterator[LiveDemo]:
    """`settings`: BUSINESS_API_* variables for the demo (none are inherited)."""
    port = free_port()
    database = str(database_dir / "demo.db")
    process = subprocess.Popen(
        [*_command(), "demo", "--port", str(port), "--database", database],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_environ(settings or {}),
    )
    try:
        key = _read_key(process)
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_serving(base_url)
        yield LiveDemo(process, key, base_url)
    finally:
        _stop(process)


async def store_with_business(database_url: str, secret: str, scopes: list[str]) -> str:
    """Migrate a store, create @tremble in it, and return a key with `scopes`."""
    from server.store.crypto import CredentialCipher
    from server.store.database import create_engine, migrate, session_factory
    from server.store.repository import Store

    engine = create_engine(database_url)
    try:
        await migrate(engine)
        store = Store(session_factory(engine), CredentialCipher(secret))
        business = await store.create_business("tremble", "Tremble Studios")
        _, key = await store.create_api_key(business.id, name="live", scopes=scopes)
        return key
    finally:
        await engine.dispose()


@contextmanager
def running_server(settings: dict[str, str], *options: str) -> Iterator[str]:
    """`business-api serve` with these BUSINESS_API_* settings (and command options);
    yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [*_command(), "serve", "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_environ(settings),
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base_url)
        yield base_url
    finally:
        _stop(process)
