"""Every HTTP call a provider adapter makes goes through `ProviderHttp`.

One place decides, for every provider alike:
- a total deadline per call (a timeout per read alone would let a provider trickling
  bytes hold a request open for ever);
- at most `UpstreamLimits.connections` calls in flight at once per provider connection,
  each on an HTTP connection of its own: more wait their turn, and the wait counts inside
  the call's deadline. Per connection, not per host: businesses share provider hosts, and
  one business's slow provider must not make another's calls wait;
- retries of transient failures (see `retries.py`);
- a cap on the bytes read per response, read as a stream and abandoned at the cap, so a
  provider cannot make the server buffer and parse a 50 MB body;
- no cookies, ever: a provider's `Set-Cookie` is not kept, so nothing one business's
  provider says can ride along on another business's calls to the same host;
- decoding into the provider's documented types (msgspec structs): a field of the wrong
  type, a body nested too deep or not JSON at all is `InvalidResponse`, never a Python
  value of the wrong kind inside the graph;
- the mapping of HTTP statuses and transport errors onto `errors.py`;
- counting, timing and tracing every request sent (`server/observability/`).

`Transport` is what sends the bytes. The server always sends through
`http1.Http1Transport`, and so do the tests: their emulators listen on real sockets. The
protocol exists for the one test that runs the same hostile answers through a kept
client as a reference (`tests/server/providers/test_conformance.py`).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx
import msgspec
from opentelemetry.trace import SpanKind

from schema.tracing import tracer
from server.observability.metrics import upstream_metrics
from server.observability.requests import current
from server.providers.breaker import CircuitOpen
from server.providers.errors import (
    InvalidResponse,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    ProviderThrottled,
    ProviderTimedOut,
    ProviderUnavailable,
    ProviderUnreachable,
)
from server.providers.http1 import (
    BodyTooLarge,
    Compressed,
    CutOff,
    Disconnected,
    NotHttp,
    ProxyFailed,
    Reply,
    Unacceptable,
)
from server.providers.retries import with_retries

if TYPE_CHECKING:
    from server.limits.outbound import OutboundBudget
    from server.providers.breaker import Breaker
    from server.settings import Settings

T = TypeVar("T")

_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True)
class UpstreamLimits:
    """What one provider call may cost, from the settings, and how often it is tried."""

    timeout_seconds: float = 10.0
    max_bytes: int = 4 * 1024 * 1024
    max_pages: int = 20
    attempts: int = 3
    longest_wait: float = 2.0
    cache_seconds: float = 60.0  # how long an adapter may reuse slow-changing lists
    connections: int = 16  # calls in flight at once for one provider connection
    wait_limit: float = 900.0  # the longest wait a provider may ask a sync pass for

    @classmethod
    def from_settings(cls, settings: Settings) -> UpstreamLimits:
        return cls(
            timeout_seconds=settings.upstream_timeout_seconds,
            max_bytes=settings.max_upstream_bytes,
            max_pages=settings.max_upstream_pages,
            cache_seconds=settings.provider_cache_seconds,
            connections=settings.upstream_connections,
            wait_limit=settings.provider_wait_limit_seconds,
        )


class Transport(Protocol):
    """Sends one request and reads its answer, at most `max_bytes` of body.

    A failure that left no answer is an `OSError` (`ConnectionError` for the ones
    `http1.py` names); an answer larger than `max_bytes` is `BodyTooLarge`; a compressed
    one is `Compressed`. The caller bounds the time. `pool` names the provider connection
    the call is for: a transport that keeps connections never gives one opened for a pool
    to a call for another."""

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        max_bytes: int,
        *,
        pool: str | None = None,
    ) -> Reply: ...

    async def close(self) -> None: ...


def unreachable_reason(error: BaseException) -> str:
    """Why a transport error left no answer, in a few words: the socket error under it,
    wherever the transport keeps it (as the error itself or a cause it chains)."""
    seen: BaseException | None = error
    for _ in range(6):  # a chain of a few wrappers at most
        if seen is None:
            break
        if isinstance(seen, Unacceptable):
            return str(seen)
        if isinstance(seen, ProxyFailed):
            cause = seen.__cause__
            return f"{seen}: {unreachable_reason(cause)}" if cause is not None else str(seen)
        if isinstance(seen, Disconnected):
            return "closed the connection without answering"
        if isinstance(seen, CutOff):
            return "the answer was cut off"
        if isinstance(seen, NotHttp):
            return "the answer was not HTTP"
        cause = seen
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "TLS certificate not trusted"
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(cause, socket.gaierror):
            return "host name not found"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror[0].lower() + cause.strerror[1:]
        seen = seen.__cause__ or seen.__context__
    return "the connection failed"


def _unreachable(provider: str, error: BaseException) -> ProviderUnreachable:
    reason = unreachable_reason(error)
    return ProviderUnreachable(provider, f"{type(error).__name__}: {reason}", reason)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` in seconds (the HTTP-date form is treated as absent)."""
    value = headers.get("retry-after", "").strip()
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def _raise_for_status(provider: str, reply: Reply) -> None:
    status = reply.status
    if status < 300:
        return
    detail = f"HTTP {status}"
    if status == 429:
        raise ProviderThrottled(provider, detail, status, retry_after_seconds(reply.headers))
    if status in (401, 403):
        raise ProviderRejected(provider, detail, status)
    if status == 404:
        raise ProviderNotFound(provider, detail, status)
    if status >= 500:
        raise ProviderUnavailable(provider, detail, status)
    raise ProviderError(provider, detail, status)


def decode(provider: str, body: bytes, into: type[T]) -> T:
    """`body` as the documented type, or InvalidResponse saying what was wrong (for logs)."""
    try:
        return msgspec.json.decode(body, type=into)
    except msgspec.ValidationError as error:
        raise InvalidResponse(provider, f"unexpected response: {error}") from None
    except msgspec.DecodeError:
        raise InvalidResponse(provider, "unexpected response: not JSON") from None
    except RecursionError:
        raise InvalidResponse(provider, "unexpected response: nested too deep") from None


class ProviderHttp:
    """The calls of one provider connection: its base URL and auth headers, bounded.

    With a `budget`, every attempt first takes a request from the connection's outbound
    budget: on a client's request (`wait_for_budget` false) a spent budget fails at once
    as throttled; the sync worker waits for it instead. With a `breaker`, a call (with its
    retries) fails fast while the connection's circuit is open.

    Every request sent is counted (the metrics, and the request's own facts for its log
    line), timed, and traced as a client span naming the provider and the `connection`.

    At most `limits.connections` calls of this client are in flight at once (the others
    wait within their deadline), and the transport keeps their connections in the pool of
    `connection` (without one, the pool shared by every client without one).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        limits: UpstreamLimits,
        budget: OutboundBudget | None = None,
        breaker: Breaker | None = None,
        wait_for_budget: bool = False,
        connection: str | None = None,
    ) -> None:
        self.provider = provider
        self.connection = connection
        self.limits = limits
        self._transport = transport
        self._base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/json", **headers}
        self._budget = budget
        self._breaker = breaker
        self._wait_for_budget = wait_for_budget
        self.calls = 0  # requests sent, for the sync worker's progress
        self._retry_waits = 0.0
        self._metrics = upstream_metrics(provider)
        self._span_name = f"upstream {provider}"
        self._slots = asyncio.Semaphore(limits.connections)

    @property
    def budget(self) -> OutboundBudget | None:
        return self._budget

    @property
    def waited_seconds(self) -> float:
        """Time spent waiting for the provider's limit: the budget's and Retry-After's."""
        return self._retry_waits + (self._budget.waited_seconds if self._budget else 0.0)

    async def _sleep(self, seconds: float) -> None:
        self._retry_waits += seconds
        await asyncio.sleep(seconds)

    async def get(self, path: str, into: type[T], params: Mapping[str, Any] | None = None) -> T:
        return await self._call("GET", path, into, params=params)

    async def post(
        self, path: str, body: Any, into: type[T], params: Mapping[str, Any] | None = None
    ) -> T:
        return await self._call("POST", path, into, body=_ENCODER.encode(body), params=params)

    async def _call(
        self,
        method: str,
        path: str,
        into: type[T],
        *,
        body: bytes | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> T:
        url = self._base_url + path
        if params:
            url += "?" + str(httpx.QueryParams({k: v for k, v in params.items() if v is not None}))
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/json"

        async def attempts() -> T:
            reply = await with_retries(
                lambda: self._send(method, path, url, headers, body),
                attempts=self.limits.attempts,
                longest_wait=self.limits.longest_wait,
                sleep=self._sleep,
            )
            try:
                return decode(self.provider, reply.body, into)
            except InvalidResponse:
                self._metrics.failed("invalid_response")
                raise

        if self._breaker is None:
            return await attempts()
        try:
            async with self._breaker.guard():
                return await attempts()
        except CircuitOpen:
            self._metrics.failed("circuit_open")
            raise

    async def _spend(self, path: str) -> None:
        assert self._budget is not None
        if self._wait_for_budget:
            await self._budget.take(path)
            return
        wait = await self._budget.wait_needed(path)
        if wait > 0:
            self._metrics.failed("budget_spent")
            raise ProviderThrottled(
                self.provider, "outbound budget spent", status=None, retry_after=wait
            )

    async def _send(
        self, method: str, path: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        if self._budget is not None:
            await self._spend(path)
        self.calls += 1
        facts = current()
        if facts is not None:
            facts.upstream_calls[self.provider] += 1
        metrics = self._metrics
        metrics.calls.inc()
        reply: Reply | None = None
        started = time.perf_counter()
        with tracer.start_as_current_span(self._span_name, kind=SpanKind.CLIENT) as span:
            try:
                reply = await self._answer(method, url, headers, body)
                if self._budget is not None:
                    self._budget.learn(path, reply.status, reply.headers)
                _raise_for_status(self.provider, reply)
                return reply
            except ProviderError as error:
                metrics.failed(error.kind)
                raise
            finally:
                metrics.duration.observe(time.perf_counter() - started)
                if span.is_recording():  # the no-op tracer costs no attribute dict
                    span.set_attributes(
                        {
                            "http.request.method": method,
                            "business_api.provider": self.provider,
                            "business_api.connection": self.connection or "",
                        }
                    )
                    if reply is not None:
                        span.set_attribute("http.response.status_code", reply.status)

    async def _answer(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        """The provider's reply, or the failure that left none, in `errors.py`'s terms."""
        limits = self.limits
        try:
            async with asyncio.timeout(limits.timeout_seconds), self._slots:
                return await self._transport.send(
                    method, url, headers, body, limits.max_bytes, pool=self.connection
                )
        except TimeoutError:
            raise ProviderTimedOut(self.provider, limits.timeout_seconds) from None
        except BodyTooLarge:
            raise InvalidResponse(
                self.provider, f"response larger than {limits.max_bytes} bytes"
            ) from None
        except Compressed as error:
            raise InvalidResponse(
                self.provider, f"response compressed ({error}) though asked uncompressed"
            ) from None
        except OSError as error:
            raise _unreachable(self.provider, error) from None


class PagingGuard:
    """Bounds the pages one relation reads in one request.

    A provider that keeps claiming more (empty pages saying `hasNext`, a cursor that comes
    back again) or more pages than the limit is an invalid response, not a loop.
    """

    def __init__(self, provider: str, max_pages: int) -> None:
        self._provider = provider
        self._max_pages = max_pages
        self._pages = 0
        self._seen: set[object] = set()

    def more(self, position: object, items_on_page: int) -> None:
        """Called when a page of `items_on_page` items says another follows at `position`."""
        self._pages += 1
        if self._pages >= self._max_pages:
            raise InvalidResponse(self._provider, f"more than {self._max_pages} pages")
        if items_on_page == 0:
            raise InvalidResponse(self._provider, "an empty page claims more")
        if position in self._seen:
            raise InvalidResponse(self._provider, "a page cursor repeats")
        self._seen.add(position)
