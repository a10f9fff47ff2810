"""One delivery attempt: a POST to an integrator's URL, and what it came to.

The receiver is a stranger's server, so every way it can hurt the sender is bounded: the
connection goes only to a global address (httpx-secure checks the address it connects
to, resolving once, so a name that rebinds to 127.0.0.1 between the subscription's check
and the delivery is still refused), redirects are answered as they are and never
followed, cookies are never kept, the whole attempt ends within `timeout`, and at most
`max_answer_bytes` of the answer are read (only its first `HEAD_BYTES` are kept, for the
delivery log). Errors come back as one of a closed set of kinds, never as exceptions,
and never carry the request's headers (the signature) or more of the answer than `head`.

`check_url` is the same rule said early, for the operator creating a subscription.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Literal
from urllib.parse import urlsplit

import httpx
from httpx_secure import SSRFProtectionError, httpx_ssrf_protection

__all__ = [
    "HEAD_BYTES",
    "Answer",
    "ErrorKind",
    "Sender",
    "check_url",
    "retry_after_seconds",
]

HEAD_BYTES = 256  # how much of an answer's body the delivery log keeps
USER_AGENT = "business-api-webhooks"
MAX_CONNECTIONS = 100
MAX_KEEPALIVE_CONNECTIONS = 20
THROTTLING_STATUSES = frozenset({429, 503})  # the answers whose Retry-After is read

ErrorKind = Literal["timeout", "connect", "refused_address", "tls", "too_large", "protocol"]

Resolve = Callable[[str], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_METADATA = ipaddress.IPv4Address("169.254.169.254")
_PRIVATE_HINT = "BUSINESS_API_WEBHOOK_ALLOW_PRIVATE=true allows private receivers"


@dataclass(frozen=True)
class Answer:
    """What one attempt came to: a status, or the kind of error that prevented one."""

    status: int | None  # None when there was no answer
    error: ErrorKind | None  # None on an answer
    latency_ms: float
    head: str  # the first HEAD_BYTES of the answer's body, decoded leniently
    retry_after: float | None  # seconds, from Retry-After on 429 and 503; the caller caps it

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def redirected(self) -> bool:
        """A 3xx: a failed attempt (redirects are never followed, the URL is the contract)."""
        return self.status is not None and 300 <= self.status < 400


class Sender:
    """Posts deliveries; one per process, opened at startup and closed with `aclose`.

    `allow_private` (the operator's BUSINESS_API_WEBHOOK_ALLOW_PRIVATE) lets deliveries
    reach loopback and private networks, for self-hosted receivers; link-local (the cloud
    metadata address), multicast and unspecified addresses stay refused even then.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: float = 15.0,
        max_answer_bytes: int = 65536,
    ) -> None:
        self._timeout = timeout
        self._max_answer_bytes = max_answer_bytes
        client = httpx.AsyncClient(
            trust_env=False,  # no proxy, netrc or CA bundle from the environment
            follow_redirects=False,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=MAX_CONNECTIONS,
                max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
            ),
            # A jar whose policy accepts no cookie: a receiver can't make us carry state
            # from one delivery to the next (or to another subscription on its host).
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            headers={"user-agent": USER_AGENT, "accept-encoding": "identity"},
        )
        if allow_private:
            self._client = httpx_ssrf_protection(
                client, check_globally_reachable=False, custom_validator=_private_allowed
            )
        else:
            self._client = httpx_ssrf_protection(client)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """One attempt; never raises for anything the receiver or the network does."""
        started = time.monotonic()

        def answer(
            status: int | None,
            error: ErrorKind | None,
            head: bytes = b"",
            retry_after: float | None = None,
        ) -> Answer:
            return Answer(
                status=status,
                error=error,
                latency_ms=(time.monotonic() - started) * 1000,
                head=head.decode("utf-8", errors="replace"),
                retry_after=retry_after,
            )

        deadline = asyncio.get_running_loop().time() + self._timeout
        try:
            # httpx's timeout bounds each read; this bounds the attempt (a trickle too).
            async with asyncio.timeout_at(deadline):
                response = await self._client.send(
                    self._client.build_request("POST", url, content=body, headers=dict(headers)),
                    stream=True,
                )
        except TimeoutError:
            return answer(None, "timeout")
        except httpx.HTTPError as error:
            return answer(None, _kind(error))
        except (httpx.InvalidURL, ValueError):
            return answer(None, "protocol")
        # The status and headers came: from here on the status is the answer, whatever
        # happens to the body (cut short, too long, too slow).
        try:
            head = await self._head_of(response, deadline)
        finally:
            await response.aclose()
        retry_after = None
        if response.status_code in THROTTLING_STATUSES:
            retry_after = retry_after_seconds(response.headers.get("retry-after"))
        return answer(response.status_code, None, head, retry_after)

    async def _head_of(self, response: httpx.Response, deadline: float) -> bytes:
        """The first HEAD_BYTES of the body, reading no more than `max_answer_bytes` of it
        (past that the connection is dropped, not drained) and no later than `deadline`."""
        head = b""
        read = 0
        try:
            async with asyncio.timeout_at(deadline):
                # Raw bytes: no decompression, so a small gzip bomb stays small.
                async for chunk in response.aiter_raw():
                    if len(head) < HEAD_BYTES:
                        head += chunk[: HEAD_BYTES - len(head)]
                    read += len(chunk)
                    if read >= self._max_answer_bytes:
                        break
        except (TimeoutError, httpx.HTTPError):
            pass
        return head

    async def aclose(self) -> None:
        await self._client.aclose()


def _kind(error: httpx.HTTPError) -> ErrorKind:
    """The one place that maps httpx's errors to the delivery log's closed set."""
    if isinstance(error, SSRFProtectionError):
        return "refused_address"
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.ConnectError):
        return "tls" if _caused_by_tls(error) else "connect"
    if isinstance(error, httpx.NetworkError):
        return "connect"
    if isinstance(error, httpx.RemoteProtocolError) and "buffer" in str(error).lower():
        return "too_large"  # h11's "Receive buffer too long": headers without end
    return "protocol"


def _caused_by_tls(error: BaseException) -> bool:
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError | ssl.CertificateError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP-date (a date in the past
    is 0); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _private_allowed(hostname: str, address: IPAddress, port: int) -> bool:
    """httpx-secure's validator under allow_private: private and loopback receivers are
    fine, the addresses no receiver lives at are not."""
    return _refusal_even_when_private(address) is None


def _refusal_even_when_private(address: IPAddress) -> str | None:
    address = _unwrapped(address)
    if address == _METADATA:
        return "the cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    return None


def _unwrapped(address: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped or NAT64 IPv6 address; else `address`."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(address.packed[-4:])
    return address


def _refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why deliveries may not go to `address` (a noun phrase), or None."""
    refused = _refusal_even_when_private(address)
    if refused is not None or allow_private:
        return refused
    inner = _unwrapped(address)
    if inner.is_loopback:
        return "a loopback address"
    if inner.is_private:
        return "a private address"
    if inner.is_reserved:
        return "a reserved address"
    if not inner.is_global or not address.is_global:
        return "a non-public address"
    return None


async def _system_resolve(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=0)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_url(url: str, *, allow_private: bool, resolve: Resolve | None = None) -> str | None:
    """What is wrong with a subscription URL, in one line; None when nothing is.

    Said at creation so the operator hears it then; the sender still checks the address
    it connects to, since a name may resolve elsewhere later.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        return "the URL is not a valid URL"
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme.lower() not in schemes:
        return "the URL must use https or http" if allow_private else "the URL must use https"
    if parts.username is not None or parts.password is not None:
        return "the URL must not contain a user name or password"
    if parts.fragment or url.endswith("#"):
        return "the URL must not contain a fragment (#…)"
    if not host:
        return "the URL has no host"
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        try:
            addresses = await (resolve or _system_resolve)(host)
        except (OSError, UnicodeError):
            addresses = []
        if not addresses:
            return f"the URL's host {host} does not resolve"
    for text in addresses:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            return f"the URL's host resolves to {text}, which is not an address"
        refused = _refusal(address, allow_private=allow_private)
        if refused is not None:
            rule = (
                "no receiver lives there"
                if allow_private
                else f"deliveries go to public addresses only ({_PRIVATE_HINT})"
            )
            return f"the URL's host resolves to {text}, {refused}: {rule}"
    return None
