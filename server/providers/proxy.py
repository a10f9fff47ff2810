"""Provider calls through an HTTP proxy, as the environment says, the way requests and
httpx read it: `HTTPS_PROXY` for https providers, `HTTP_PROXY` for http ones (the
lowercase spelling wins when both are set, as urllib has it), `NO_PROXY` for the hosts that
are reached directly (matched by the standard library's `proxy_bypass_environment`: names,
domain suffixes, `host:port`, `*`). Nothing is bypassed unless listed: a provider on
loopback goes through the proxy too.

The environment is read once, when the transport is built; a proxy URL that is not
`http://` is refused then, so the server does not start (an https proxy, or SOCKS, would
need machinery this transport does not have). User and password in the URL become
`Proxy-Authorization: Basic`, sent to the proxy only, never to a provider.

An https provider is reached through a CONNECT tunnel, TLS to the provider inside it
(`loop.start_tls`); an http provider by requests in absolute form to the proxy. The proxy's
answer to CONNECT is bounded like any head (`wire.MAX_HEAD`, `MAX_FIELD`, `MAX_FIELDS`).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

# Public in urllib since Python 3.0, though typeshed does not declare it.
from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]

import httptools

from server.providers.wire import (
    MAX_FIELD,
    MAX_FIELDS,
    MAX_HEAD,
    Connection,
    NotHttp,
    ProxyFailed,
    Unacceptable,
)
from server.settings import SettingsError


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None  # the Proxy-Authorization value, from the URL's user

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _variable(environ: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """(the variable, its value) for `name`: lowercase first, as urllib reads them; an
    empty value is unset."""
    for variable in (name, name.upper()):
        if variable in environ:
            value = environ[variable].strip()
            return (variable, value) if value else None
    return None


def _proxy(variable: str, url: str) -> Proxy:
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or not parts.hostname:
        # Only the scheme is repeated: the rest may hold a password.
        shown = f"{parts.scheme}://…" if parts.scheme else "no scheme"
        raise SettingsError(
            f"{variable} must be an http:// proxy URL such as http://proxy.internal:3128 "
            f"(an https or SOCKS proxy is not supported); it has {shown}."
        )
    try:
        port = parts.port or 80
    except ValueError:
        raise SettingsError(f"{variable} has a port that is not a number.") from None
    authorization = None
    if parts.username is not None:
        user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(user.encode()).decode("ascii")
    return Proxy(parts.hostname, port, authorization)


@dataclass(frozen=True)
class Proxies:
    """The proxies the environment names, and what it says to reach directly."""

    http: Proxy | None
    https: Proxy | None
    no_proxy: str | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Proxies | None:
        """None when no proxy is set (the common case: no lookup per call). Raises
        `SettingsError` naming the variable of a proxy URL this transport cannot use."""
        found: dict[str, Proxy] = {}
        for name in ("http_proxy", "https_proxy"):
            setting = _variable(environ, name)
            if setting is not None:
                found[name] = _proxy(*setting)
        if not found:
            return None
        no_proxy = _variable(environ, "no_proxy")
        return cls(
            found.get("http_proxy"), found.get("https_proxy"), no_proxy[1] if no_proxy else None
        )

    def for_origin(self, scheme: str, host: str, port: int) -> Proxy | None:
        proxy = self.https if scheme == "https" else self.http
        if proxy is None or self.no_proxy is None:
            return proxy
        # Matched as `host:port` (urllib splits the port off the end, an IPv6 host too).
        bypassed = proxy_bypass_environment(f"{host}:{port}", {"no": self.no_proxy})
        return None if bypassed else proxy


async def _connect(proxy: Proxy, factory: Callable[[], asyncio.BaseProtocol]) -> asyncio.Transport:
    try:
        transport, _ = await asyncio.get_running_loop().create_connection(
            factory, proxy.host, proxy.port
        )
    except OSError as error:
        raise ProxyFailed(f"the proxy {proxy.address} was not reached") from error
    return transport


async def through(proxy: Proxy, buffer: memoryview) -> Connection:
    """A connection to the proxy, for requests in absolute form to http providers."""
    connection = Connection(buffer)
    await _connect(proxy, lambda: connection)
    return connection


async def tunnel(
    proxy: Proxy, host: str, port: int, tls: ssl.SSLContext, buffer: memoryview
) -> Connection:
    """A connection to an https provider through a CONNECT tunnel, TLS inside it."""
    answer = _TunnelAnswer()
    raw = await _connect(proxy, lambda: answer)
    try:
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
        if proxy.authorization:
            lines.append(f"Proxy-Authorization: {proxy.authorization}")
        raw.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status = await answer.status
        if not 200 <= status < 300:
            raise ProxyFailed(f"the proxy {proxy.address} refused the tunnel (HTTP {status})")
        if raw.is_closing():
            raise ProxyFailed(f"the proxy {proxy.address} closed the tunnel")
        connection = Connection(buffer)
        secure = await asyncio.get_running_loop().start_tls(
            raw, connection, tls, server_hostname=host
        )
        if secure is None:  # start_tls gives None only on a transport already closing
            raise ProxyFailed(f"the proxy {proxy.address} closed the tunnel")
    except BaseException:  # refused, failed or cancelled (a deadline): never left open
        raw.close()
        raise
    connection.connection_made(secure)
    return connection


class _TunnelAnswer(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT: its status, within a head's bounds. Nothing may
    follow a 2xx head: the next bytes are the provider's TLS, after ours."""

    def __init__(self) -> None:
        self.status: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._fed = 0
        self._fields = 0
        self._final = 0  # the status of the first head that is not interim
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self.status.done():
            self._fail(NotHttp("the proxy sent bytes after its answer to CONNECT"))
            return
        self._fed += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            refusal = error.__context__
            self._fail(refusal if isinstance(refusal, NotHttp) else NotHttp("not an answer"))
            return
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self._fail(NotHttp("the proxy's answer to CONNECT was not HTTP"))
            return
        if self._final:
            self.status.set_result(self._final)
        elif self._fed > MAX_HEAD:
            self._fail(Unacceptable(f"the proxy's answer head was over {MAX_HEAD // 1024} KiB"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.status.done():
            self.status.set_exception(ProxyFailed("the proxy closed the connection"))

    def _fail(self, error: Exception) -> None:
        if not self.status.done():
            self.status.set_exception(error)
        if self._transport is not None:
            self._transport.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        if len(name) + len(value) > MAX_FIELD or self._fields > MAX_FIELDS:
            raise Unacceptable("the proxy's answer had a header field too large or too many")

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status >= 200 and not self._final:
            self._final = status
        self._fields = 0

    def on_body(self, body: bytes) -> None:
        if 200 <= self._final < 300:
            raise NotHttp("the proxy sent bytes after its answer to CONNECT")
