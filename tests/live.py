"""A real `business-api demo` process on a free port, for tests that need a socket
(the browser, the GraphQL-over-HTTP audit, the demo itself)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx


class PrintedLines:
    """What a process prints, read by a thread as it comes: a server that logs every
    request would otherwise stop once the pipe no one reads is full."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: list[str] = []
        self._ended = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return "\n".join(self._lines)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """The first line matching `pattern`, once it is printed."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self._lines[seen:]:
                    if match := re.search(pattern, line):
                        return match
                seen = len(self._lines)
                left = deadline - time.monotonic()
                if self._ended or left <= 0:
                    printed = "\n".join(self._lines)
                    raise AssertionError(f"nothing printed matches {pattern!r}:\n{printed}")
                self._changed.wait(left)


@dataclass(frozen=True)
class LiveDemo:
    process: subprocess.Popen[str]
    key: str
    base_url: str
    printed: PrintedLines
    folder: Path  # where it runs, and keeps business-api-demo.env

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/@tremble/api/graphql"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(executable: Path | None = None) -> list[str]:
    """`executable` (another environment's `business-api`), or this environment's."""
    if executable is not None:
        return [str(executable)]
    script = Path(sys.executable).with_name("business-api")
    return [str(script)] if script.exists() else [sys.executable, "-m", "server.cli"]


def business_api(
    folder: Path, *arguments: str, executable: Path | None = None, **settings: str
) -> subprocess.CompletedProcess[str]:
    """The installed `business-api` command run in `folder`, with only the given
    BUSINESS_API_* settings in its environment, as a user would type it there."""
    return subprocess.run(
        [*_command(executable), *arguments],
        cwd=folder,
        capture_output=True,
        text=True,
        env=_environ(settings),
        timeout=60,
    )


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
def running_demo(
    database_dir: Path,
    settings: dict[str, str] | None = None,
    *,
    executable: Path | None = None,
) -> Iterator[LiveDemo]:
    """`settings`: BUSINESS_API_* variables for the demo (none are inherited). It runs in
    `database_dir`, where it writes its env file."""
    port = free_port()
    database = str(database_dir / "demo.db")
    process = subprocess.Popen(
        [*_command(executable), "demo", "--port", str(port), "--database", database],
        cwd=database_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_environ(settings or {}),
    )
    try:
        assert process.stdout is not None
        printed = PrintedLines(process.stdout)
        key = printed.wait_for(r"^API key: (sk_\S+)$").group(1)
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_serving(base_url)
        yield LiveDemo(process, key, base_url, printed, database_dir)
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
