"""The server's transport to providers: HTTP/1.1 over asyncio, parsed by httptools.

Why not a general client: provider calls are the server's hottest I/O (the document's query
makes eight of them, of about 60 KB each), and a general client's machinery costs more CPU
than the rest of the call. Measured by `benchmarks/http_clients.py` (figures in the
README): aiohttp about 0.19 ms of CPU per call, httpx about 1 ms, this transport about
0.04 ms. What a provider call needs is small: kept-alive connections, a request line and
headers, a response parsed by httptools (llhttp, the parser uvicorn serves with) within
bounds (`wire.py`), and a proxy when the environment names one (`proxy.py`). Everything
else (deadlines, retries, the limit of calls in flight, the mapping of failures onto
`errors.py`) stays in `ProviderHttp`, in one place for every transport.

Pools are per provider connection, not per origin: a call names its `pool` (the
connection's id) and is only ever given a connection opened for that pool, that origin and
that route (direct, or the same proxy; through a tunnel, to the same target). Businesses
share hosts (every Wix site is `www.wixapis.com:443`); shared pools would save a TLS
handshake per business now and then, but an answer that a provider's desync left on a
connection could then reach another business's call, and one business's connections would
count against another's. A connection with anything left past its answer is closed anyway
(`wire.py`); pools per connection make the last race, bytes arriving after the next
request is written, one business's own. Calls without a pool (checks of a connection not
yet stored, benchmarks) share one pool per origin.

Idle connections are kept at most `IDLE_SECONDS` (aiohttp's keep-alive default), and at
most `MAX_IDLE_PER_POOL` per pool: the age is checked when a connection is taken, and every
pool is swept of old ones now and then as connections are put back, so no timer runs per
connection.

Bodies are asked for uncompressed (`Accept-Encoding: identity`), so the cap counts the
bytes that will be parsed; a provider that compresses anyway is answering what was not
asked for. Redirects are not followed and no cookie is ever kept or sent.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from server.providers.proxy import Proxies, Proxy, through, tunnel
from server.providers.wire import (
    BodyTooLarge,
    Compressed,
    Connection,
    CutOff,
    Disconnected,
    NotHttp,
    ProxyFailed,
    Reply,
    Stale,
    Unacceptable,
    read_buffer,
)

__all__ = [
    "BodyTooLarge",
    "Compressed",
    "CutOff",
    "Disconnected",
    "Http1Transport",
    "NotHttp",
    "ProxyFailed",
    "Reply",
    "Unacceptable",
]

IDLE_SECONDS = 15.0  # an idle connection older than this is closed, not reused (aiohttp's)
MAX_IDLE_PER_POOL = 32  # more connections finishing at once are closed instead of kept
MAX_ROUTES = 4096  # proxy decisions remembered per origin before they are made afresh

Origin = tuple[str, str, int]  # scheme, host, port
PoolKey = tuple[str | None, Origin, Proxy | None]  # the pool, the origin, the proxy


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
    """Sends provider requests over kept-alive HTTP/1.1 connections, pooled per provider
    connection (see the module's doc), on one event loop at a time: its connections share
    one read buffer (`wire.py` says why that is safe on one loop)."""

    def __init__(
        self,
        tls: ssl.SSLContext | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`tls` verifies providers' certificates (by default the system's trust store);
        `environ` names the proxies (by default the process's environment, read now:
        `SettingsError` for a proxy URL that cannot be used); `clock` ages idle
        connections."""
        self._pools: dict[PoolKey, deque[tuple[float, Connection]]] = {}
        self._tls = tls
        self._proxies = Proxies.from_environ(os.environ if environ is None else environ)
        self._routes: dict[Origin, Proxy | None] = {}
        self._clock = clock
        self._swept = clock()
        self._buffer = read_buffer()

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        max_bytes: int,
        *,
        pool: str | None = None,
    ) -> Reply:
        origin, target, host = _origin(url)
        proxy = None if self._proxies is None else self._proxy_for(origin)
        if proxy is not None and origin[0] == "http":
            target = f"http://{host}{target}"  # absolute form, for the proxy to forward
            if proxy.authorization:
                headers = {**headers, "Proxy-Authorization": proxy.authorization}
        request = _request(method, target, host, headers, body)
        key = (pool, origin, proxy)
        reply = None
        kept = self._take(key)
        if kept is not None:
            try:
                reply = await self._exchange(key, kept, request, max_bytes)
            except Stale:  # closed while it waited: this request was never answered
                reply = None
        if reply is None:
            connection = await self._open(origin, proxy)
            reply = await self._exchange(key, connection, request, max_bytes)
        if proxy is not None and reply.status == 407:  # the proxy's answer, not the provider's
            raise ProxyFailed(f"the proxy {proxy.address} refused the request (HTTP 407)")
        return reply

    def _proxy_for(self, origin: Origin) -> Proxy | None:
        assert self._proxies is not None
        try:
            return self._routes[origin]
        except KeyError:
            pass
        if len(self._routes) >= MAX_ROUTES:
            self._routes.clear()
        proxy = self._routes[origin] = self._proxies.for_origin(*origin)
        return proxy

    def _take(self, key: PoolKey) -> Connection | None:
        idle = self._pools.get(key)
        if not idle:
            return None
        now = self._clock()
        while idle:
            since, connection = idle.pop()  # the most recently used: the others may age out
            if connection.closed:
                continue
            if now - since >= IDLE_SECONDS:  # and every one older still
                connection.close()
                while idle:
                    idle.pop()[1].close()
                return None
            connection.reused = True
            return connection
        return None

    def _put(self, key: PoolKey, connection: Connection) -> None:
        now = self._clock()
        idle = self._pools.get(key)
        if idle is None:
            idle = self._pools[key] = deque()
        idle.append((now, connection))
        if len(idle) > MAX_IDLE_PER_POOL:
            idle.popleft()[1].close()
        if now - self._swept >= IDLE_SECONDS:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        """Closes the connections every pool kept too long, and forgets empty pools."""
        self._swept = now
        for key, idle in list(self._pools.items()):
            while idle and (idle[0][1].closed or now - idle[0][0] >= IDLE_SECONDS):
                idle.popleft()[1].close()
            if not idle:
                del self._pools[key]

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    async def _open(self, origin: Origin, proxy: Proxy | None) -> Connection:
        scheme, host, port = origin
        if proxy is not None:
            if scheme == "https":
                return await tunnel(proxy, host, port, self._context(), self._buffer)
            return await through(proxy, self._buffer)
        tls = self._context() if scheme == "https" else None
        connection = Connection(self._buffer)
        await asyncio.get_running_loop().create_connection(
            lambda: connection, host, port, ssl=tls, server_hostname=host if tls else None
        )
        return connection

    async def _exchange(
        self, key: PoolKey, connection: Connection, request: bytes, max_bytes: int
    ) -> Reply:
        try:
            reply = await connection.exchange(request, max_bytes)
        except BaseException:  # failed or cancelled (a deadline): never reused
            connection.close()
            raise
        if connection.reusable:
            self._put(key, connection)
        else:
            connection.close()
        return reply

    @property
    def idle(self) -> int:
        """Connections kept open for reuse, in every pool (for tests and checks)."""
        return sum(not connection.closed for idle in self._pools.values() for _, connection in idle)

    async def close(self) -> None:
        for idle in self._pools.values():
            for _, connection in idle:
                connection.close()
        self._pools.clear()
