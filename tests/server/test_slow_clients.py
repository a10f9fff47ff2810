"""Slow clients are cut off, over real sockets against `business-api serve`: headers that
never end, a body shorter than it claims, a connection that says nothing; and the number
of connections is bounded."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import running_server, store_with_business
from tests.server.conftest import ALL_SCOPES

pytestmark = pytest.mark.subprocess

SECRET = "slow-clients-secret-0123456789abcdef"
# Seconds, for headers and for the body. The server's timer starts a moment before the
# client's, so a cut-off is checked for at TIMEOUT * 0.8 and later: a full second.
TIMEOUT = 1.25


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, str]]:
    database = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('slow')) / 'store.db'}"
    key = asyncio.run(store_with_business(database, SECRET, ALL_SCOPES))
    settings = {
        "BUSINESS_API_DATABASE_URL": database,
        "BUSINESS_API_SECRET_KEY": SECRET,
        "BUSINESS_API_BODY_TIMEOUT": str(TIMEOUT),
        "BUSINESS_API_KEEP_ALIVE_TIMEOUT": str(TIMEOUT),
        "BUSINESS_API_MAX_CONNECTIONS": "4",
    }
    with running_server(settings) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        yield host, int(port), key


def read_until_closed(sock: socket.socket, limit: float = 10) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    began = time.monotonic()
    sock.settimeout(limit)
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received, time.monotonic() - began


def test_headers_that_never_end_are_cut_off(server: tuple[str, int, str]) -> None:
    host, port, _ = server
    with socket.create_connection((host, port)) as sock:
        sock.sendall(b"POST /@tremble/api/graphql HTTP/1.1\r\nHost: x\r\nContent-Type: app")
        received, elapsed = read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 408")
    assert TIMEOUT * 0.8 < elapsed < TIMEOUT + 2


def test_a_connection_that_sends_nothing_is_closed(server: tuple[str, int, str]) -> None:
    host, port, _ = server
    with socket.create_connection((host, port)) as sock:
        _, elapsed = read_until_closed(sock)
    assert elapsed < TIMEOUT + 2


def test_a_body_shorter_than_its_content_length_is_408(server: tuple[str, int, str]) -> None:
    host, port, key = server
    with socket.create_connection((host, port)) as sock:
        sock.sendall(
            b"POST /@tremble/api/graphql HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n"
            b"Authorization: Bearer " + key.encode() + b'\r\n\r\n{"query": '
        )
        received, elapsed = read_until_closed(sock)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert b'"code":"BAD_REQUEST"' in body
    assert f"within {TIMEOUT} seconds".encode() in body
    assert elapsed < TIMEOUT + 2


def test_connections_past_the_limit_are_turned_away(server: tuple[str, int, str]) -> None:
    host, port, _ = server
    held = [socket.create_connection((host, port)) for _ in range(4)]
    try:
        for sock in held:  # four requests in flight, their headers unfinished
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.2)
        with socket.create_connection((host, port)) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            extra.settimeout(5)
            answer = extra.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503")
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    with socket.create_connection((host, port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received, _ = read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 200")
