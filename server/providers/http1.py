"""The server's transport to providers: HTTP/1.1 over asyncio, parsed by httptools.

Why not a general client: provider calls are the server's hottest I/O (the document's query
makes eight of them, of about 60 KB each), and a general client's machinery costs more CPU
than the rest of the call. Measured by `benchmarks/http_clients.py` (figures in the
README): aiohttp about 0.19 ms of CPU per call, httpx about 1 ms, this transport about
0.04 ms. What a provider call needs is small: kept-alive connections per origin, a request
line and headers, a response parsed by httptools (llhttp, the parser uvicorn serves with)
and a cap on the bytes read. Everything else (deadlines, retries, the mapping of failures
onto `errors.py`) stays in `ProviderHttp`, in one place for every transport.

Bodies are asked for uncompressed (`Accept-Encoding: identity`), so the cap counts the
bytes that will be parsed; a provider that compresses anyway is answering what was not
asked for. Redirects are not followed and no cookie is ever kept or sent.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

# Connections kept open per origin once their answer is read; more than this many
# finishing at once are closed instead of kept.
MAX_IDLE_PER_ORIGIN = 64

Origin = tuple[str, str, int]  # scheme, host, port


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # looked up by lowercase name
    body: bytes


class BodyTooLarge(Exception):
    """The answer is (or says it is) larger than the cap."""


class Disconnected(ConnectionError):
    """The provider closed the connection before its answer began."""


class CutOff(ConnectionError):
    """The provider closed the connection in the middle of its answer."""


class NotHttp(ConnectionError):
    """What came back is not an HTTP/1.1 answer."""


class Compressed(Exception):
    """A compressed body, though an uncompressed one was asked for."""


class _Stale(Exception):
    """A kept connection the provider had closed: the request was not answered, and goes
    again on a new connection."""


class _Connection(asyncio.Protocol):
    """One connection: one exchange at a time, its answer assembled by httptools."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[Reply] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._max_bytes = 0
        self._begun = False  # a byte of this exchange's answer has arrived
        self._headers_done = False
        self._sized = False  # the answer says its length, or is chunked
        self._keep_alive = False  # the answer leaves the connection open for the next

    async def exchange(self, request: bytes, max_bytes: int) -> Reply:
        assert self.transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._headers, self._body, self._size = {}, [], 0
        self._max_bytes, self._begun, self._sized = max_bytes, False, False
        self._headers_done = self._keep_alive = False
        self.transport.write(request)
        return await self._answer

    @property
    def reusable(self) -> bool:
        return self._keep_alive and not self.closed

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: BaseException) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
        self.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():
            self.close()  # bytes nobody asked for: the connection is not in a known state
            return
        self._begun = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(NotHttp("not an HTTP answer"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        answer = self._answer
        if answer is None or answer.done():
            return
        if not self._begun:
            answer.set_exception(_Stale() if self.reused else Disconnected())
        elif self._headers_done and not self._sized:
            self._complete()  # a body without a length ends with the connection
        else:
            answer.set_exception(CutOff())

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._headers_done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        seen = self._headers.get(key)
        self._headers[key] = text if seen is None else f"{seen}, {text}"

    def on_headers_complete(self) -> None:
        self._headers_done = True
        headers = self._headers
        declared = headers.get("content-length", "")
        self._sized = bool(declared) or "chunked" in headers.get("transfer-encoding", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            self._fail(BodyTooLarge())
        elif headers.get("content-encoding", "identity").lower() != "identity":
            self._fail(Compressed(headers["content-encoding"]))

    def on_body(self, body: bytes) -> None:
        if self._answer is None or self._answer.done():
            return
        self._size += len(body)
        if self._size > self._max_bytes:
            self._fail(BodyTooLarge())
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._keep_alive = self._parser.should_keep_alive()  # known only until the next
        self._complete()

    def _complete(self) -> None:
        answer = self._answer
        if answer is not None and not answer.done():
            status = self._parser.get_status_code()
            answer.set_result(Reply(status, self._headers, b"".join(self._body)))


def _origin(url: str) -> tuple[Origin, str, str]:
    """(the origin, the request target, the Host header) of an absolute URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise NotHttp(f"not an HTTP URL: {scheme}")
    default = 443 if scheme == "https" else 80
    port = parts.port or default
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (scheme, host, port), target, shown if port == default else f"{shown}:{port}"


def _request(
    method: str, target: str, host: str, headers: Mapping[str, str], body: bytes | None
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    if any("\r" in line or "\n" in line for line in lines):
        # A header value (a credential, say) that would end its line early.
        raise NotHttp("a header holds a line break")
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + (body or b"")


class Http1Transport:
    """Sends provider requests over kept-alive HTTP/1.1 connections, one pool per origin."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        """`tls` verifies providers' certificates (by default the system's trust store)."""
        self._idle: dict[Origin, list[_Connection]] = {}
        self._tls = tls

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        max_bytes: int,
    ) -> Reply:
        origin, target, host = _origin(url)
        request = _request(method, target, host, headers, body)
        kept = self._take(origin)
        if kept is not None:
            try:
                return await self._exchange(origin, kept, request, max_bytes)
            except _Stale:
                pass  # closed while it waited: this request was never answered
        connection = await self._open(origin)
        return await self._exchange(origin, connection, request, max_bytes)

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                connection.reused = True
                return connection
        return None

    async def _open(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            _Connection, host, port, ssl=tls, server_hostname=host if tls else None
        )
        return connection

    async def _exchange(
        self, origin: Origin, connection: _Connection, request: bytes, max_bytes: int
    ) -> Reply:
        try:
            reply = await connection.exchange(request, max_bytes)
        except BaseException:  # failed or cancelled (a deadline): never reused
            connection.close()
            raise
        idle = self._idle.setdefault(origin, [])
        if connection.reusable and len(idle) < MAX_IDLE_PER_ORIGIN:
            idle.append(connection)
        else:
            connection.close()
        return reply

    async def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
