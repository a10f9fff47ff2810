"""The kept client: a `Transport` over httpx, the reference the production transport is
compared with (`tests/server/providers/test_conformance.py`).

httpx (httpcore, h11 underneath) is a maintained general client whose HTTP/1.1 parsing
has seen years of hostile servers; the server does not use it for its CPU cost
(`server/providers/http1.py` says why), but what it does with a hostile answer is what
correct looks like unless a test's judgement says otherwise. It is set up to promise
what `Http1Transport` promises, so only the HTTP handling differs:

- real sockets through httpx's default transport, connections kept alive per origin;
- no redirect followed, no cookie kept or sent (a jar whose policy refuses every domain),
  nothing taken from the environment (no proxy, no netrc);
- no timeout of its own (`ProviderHttp` bounds each call), TLS verified with the
  given context;
- `Accept-Encoding: identity`; a compressed answer is `Compressed`, a declared or read
  body over `max_bytes` is `BodyTooLarge`, the body read as a stream and abandoned at
  the cap;
- an httpx transport error is a `ConnectionError` (which `ProviderHttp` maps to
  unreachable), chaining the httpx error and naming its class in `httpx_name`.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from server.providers.http1 import BodyTooLarge, Compressed, CutOff, Disconnected, NotHttp, Reply


class KeptError(ConnectionError):
    """An httpx transport error: no usable answer. `httpx_name` is its class's name."""

    def __init__(self, error: httpx.TransportError) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.httpx_name = type(error).__name__


class KeptDisconnected(KeptError, Disconnected):
    """The provider closed the connection before its answer began."""


class KeptCutOff(KeptError, CutOff):
    """The provider closed the connection in the middle of the body."""


class KeptNotHttp(KeptError, NotHttp):
    """What came back is not HTTP as h11 accepts it (malformed, or a head too large)."""


def connection_error(error: httpx.TransportError, *, in_body: bool) -> KeptError:
    """The `ConnectionError` for an httpx transport error, raised before the answer's
    head was read or (`in_body`) while its body was. A protocol error is told apart by
    httpcore's and h11's words: the class is the same for a silent close, a cut-off body
    and garbage."""
    if not isinstance(error, httpx.RemoteProtocolError):
        return KeptError(error)  # read, write, connect errors: their cause says why
    text = str(error).lower()
    if not in_body and "without sending a response" in text:
        return KeptDisconnected(error)
    if in_body and "peer closed connection" in text:
        return KeptCutOff(error)
    return KeptNotHttp(error)


def _refusing_jar() -> CookieJar:
    """A jar that keeps no cookie and so sends none: no domain is allowed."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class KeptTransport:
    """Sends provider requests through an `httpx.AsyncClient`; see the module's doc."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        """`tls` verifies providers' certificates (by default the system's trust store)."""
        self._client = httpx.AsyncClient(
            verify=tls if tls is not None else True,
            follow_redirects=False,
            cookies=_refusing_jar(),
            timeout=None,
            trust_env=False,
            headers={"Accept-Encoding": "identity"},
        )

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
        """`pool` is not used: httpx keeps one pool per origin."""
        request = self._client.build_request(
            method, url, headers={**headers, "Accept-Encoding": "identity"}, content=body
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TransportError as error:
            raise connection_error(error, in_body=False) from error
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise BodyTooLarge()
            encoding = response.headers.get("content-encoding", "identity")
            if encoding.lower() != "identity":
                raise Compressed(encoding)
            chunks: list[bytes] = []
            size = 0
            try:
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > max_bytes:
                        raise BodyTooLarge()
                    chunks.append(chunk)
            except httpx.TransportError as error:
                raise connection_error(error, in_body=True) from error
        finally:
            with contextlib.suppress(httpx.TransportError):
                await response.aclose()  # unread: the connection is closed, not kept
        # Same-named headers joined with ", " under lowercase names, as http1.py does.
        joined = dict(response.headers.items())
        return Reply(response.status_code, joined, b"".join(chunks))

    async def close(self) -> None:
        await self._client.aclose()
