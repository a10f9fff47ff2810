"""One delivery attempt against real sockets: receivers on 127.0.0.1 served by uvicorn
(the session's `upstream`) or, for answers no HTTP server gives, by a raw provider.

Behaviour tests use `allow_private=True` (the receivers are on loopback); the SSRF tests
use the default and check that the refused receiver saw no request.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from server.webhooks.sending import HEAD_BYTES, Answer, Sender, check_url, retry_after_seconds
from tests.raw_provider import (
    Close,
    Hang,
    RawProviders,
    ReadRequest,
    Stream,
    Tls,
    raw_provider,
    repeated,
)
from tests.raw_provider import Send as SendBytes
from tests.upstream import SocketUpstream

__all__ = ["raw_provider"]

BODY = b'{"type":"registration.created","timestamp":"2026-01-01T00:00:00Z","data":{}}'
HEADERS = {"content-type": "application/json", "webhook-id": "msg_1"}
SAFETY_SECONDS = 20  # a bound on a call that should end much sooner, not a measurement
MB = 1024 * 1024


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An ASGI receiver recording every request, answering `answers[path]` (status,
    headers, body), 200 by default."""

    answers: dict[str, tuple[int, list[tuple[str, str]], bytes]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        self.requests.append(Recorded(path, dict(request.headers), body))
        status, headers, content = self.answers.get(path, (200, [], b"ok"))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": content})


@pytest.fixture
def receiver(upstream: SocketUpstream) -> Iterator[tuple[Receiver, str]]:
    """A recording receiver on the session's socket, and its base URL."""
    app = Receiver()
    base = upstream.mount(app, "receiver")
    try:
        yield app, base
    finally:
        upstream.unmount(base)
    upstream.assert_no_failures()


@pytest.fixture
async def sender() -> Any:
    sending = Sender(allow_private=True, timeout=5.0)
    try:
        yield sending
    finally:
        await sending.aclose()


@pytest.fixture
async def guarded() -> Any:
    """The production default: public addresses only."""
    sending = Sender()
    try:
        yield sending
    finally:
        await sending.aclose()


def resolving(answers: dict[str, list[str]]) -> Any:
    async def resolve(host: str) -> list[str]:
        return answers.get(host, [])

    return resolve


# check_url: the rule said at creation


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://hooks.example/", "the URL must use https"),
        ("ftp://hooks.example/", "the URL must use https"),
        ("https://user:pw@hooks.example/", "must not contain a user name or password"),
        ("https://hooks.example/in#part", "must not contain a fragment"),
        ("https:///nohost", "the URL has no host"),
        ("https://nowhere.example/", "does not resolve"),
        ("https://127.0.0.1/", "127.0.0.1, a loopback address"),
        ("https://10.1.2.3/", "10.1.2.3, a private address"),
        ("https://169.254.169.254/latest", "169.254.169.254, the cloud metadata address"),
        ("https://[::1]/", "::1, a loopback address"),
        ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1, a loopback address"),
        ("https://[fe80::1]/", "a link-local address"),
        ("https://0.0.0.0/", "an unspecified address"),
        ("https://224.0.0.1/", "a multicast address"),
        ("https://internal.example/", "10.0.0.5, a private address"),
        ("https://mixed.example/", "192.168.1.1, a private address"),
    ],
)
async def test_check_url_refuses_urls_deliveries_may_not_go_to(url: str, complaint: str) -> None:
    resolve = resolving(
        {
            "hooks.example": ["93.184.216.34"],
            "internal.example": ["10.0.0.5"],
            "mixed.example": ["93.184.216.34", "192.168.1.1"],
        }
    )
    problem = await check_url(url, allow_private=False, resolve=resolve)
    assert problem is not None and complaint in problem
    assert "\n" not in problem


async def test_check_url_names_the_setting_that_allows_private_receivers() -> None:
    problem = await check_url(
        "https://internal.example/",
        allow_private=False,
        resolve=resolving({"internal.example": ["10.0.0.5"]}),
    )
    assert problem == (
        "the URL's host resolves to 10.0.0.5, a private address: deliveries go to public "
        "addresses only (BUSINESS_API_WEBHOOK_ALLOW_PRIVATE=true allows private receivers)"
    )


async def test_check_url_accepts_an_https_url_whose_host_resolves_to_public_addresses() -> None:
    resolve = resolving({"hooks.example": ["93.184.216.34", "2606:2800:220:1::248"]})
    assert (
        await check_url("https://hooks.example/in?x=1", allow_private=False, resolve=resolve)
        is None
    )


async def test_check_url_with_private_allowed_accepts_http_and_loopback_but_not_metadata() -> None:
    resolve = resolving({"localhost": ["127.0.0.1"]})
    assert await check_url("http://localhost:8000/", allow_private=True, resolve=resolve) is None
    assert await check_url("http://10.1.2.3/", allow_private=True) is None
    problem = await check_url("http://169.254.169.254/", allow_private=True)
    assert problem is not None and "metadata" in problem


# The sender's address check: on the address it connects to


async def test_a_loopback_receiver_is_refused_and_gets_nothing(
    guarded: Sender, receiver: tuple[Receiver, str]
) -> None:
    app, base = receiver
    answer = await guarded.post(f"{base}/in", BODY, HEADERS)
    assert answer.error == "refused_address"
    assert answer.status is None and not answer.delivered
    assert app.requests == []


async def test_ipv6_loopback_and_mapped_loopback_are_refused(guarded: Sender) -> None:
    for url in ("http://[::1]:9/", "http://[::ffff:127.0.0.1]:9/", "https://169.254.169.254/"):
        answer = await guarded.post(url, BODY, HEADERS)
        assert answer.error == "refused_address", url


async def test_a_name_rebound_to_loopback_after_the_check_is_refused(
    guarded: Sender, receiver: tuple[Receiver, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: public when the subscription is checked, 127.0.0.1 when delivering.
    httpx-secure resolves through anyio's `connect_tcp` (the event loop's getaddrinfo,
    which calls `socket.getaddrinfo`), so the stub sits there, under both checks."""
    app, base = receiver
    port = int(base.split(":")[2].split("/")[0])
    real = socket.getaddrinfo
    calls: list[str] = []

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("rebind.example", b"rebind.example"):
            calls.append("rebind.example")
            address = "93.184.216.34" if len(calls) == 1 else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, args[0] or 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    assert await check_url(f"https://rebind.example:{port}/", allow_private=False) is None

    answer = await guarded.post(f"http://rebind.example:{port}/receiver/in", BODY, HEADERS)
    assert answer.error == "refused_address"
    assert len(calls) >= 2  # the sender resolved again, and checked what it got
    assert app.requests == []


# Answers


async def test_a_2xx_is_delivered_and_the_receiver_gets_the_body_and_headers(
    sender: Sender, receiver: tuple[Receiver, str]
) -> None:
    app, base = receiver
    app.answers["/in"] = (204, [], b"")
    answer = await sender.post(f"{base}/in", BODY, HEADERS)
    assert answer == Answer(204, None, answer.latency_ms, "", None)
    assert answer.delivered and not answer.redirected and answer.latency_ms >= 0
    (request,) = app.requests
    assert request.body == BODY
    assert request.headers["webhook-id"] == "msg_1"
    assert request.headers["user-agent"] == "business-api-webhooks"


async def test_a_redirect_is_answered_as_is_and_its_target_gets_nothing(
    sender: Sender, receiver: tuple[Receiver, str]
) -> None:
    app, base = receiver
    app.answers["/old"] = (301, [("location", f"{base}/new")], b"moved")
    answer = await sender.post(f"{base}/old", BODY, HEADERS)
    assert answer.status == 301 and answer.redirected and not answer.delivered
    assert answer.error is None and answer.head == "moved"
    assert [request.path for request in app.requests] == ["/old"]


async def test_a_cookie_set_by_the_receiver_is_never_sent_back(
    sender: Sender, receiver: tuple[Receiver, str]
) -> None:
    app, base = receiver
    app.answers["/in"] = (200, [("set-cookie", "session=abc; Path=/")], b"ok")
    await sender.post(f"{base}/in", BODY, HEADERS)
    await sender.post(f"{base}/in", BODY, HEADERS)
    assert len(app.requests) == 2
    assert all("cookie" not in request.headers for request in app.requests)


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_in_seconds_is_read_on_429_and_503(
    sender: Sender, receiver: tuple[Receiver, str], status: int
) -> None:
    app, base = receiver
    app.answers["/in"] = (status, [("retry-after", "7")], b"slow down")
    answer = await sender.post(f"{base}/in", BODY, HEADERS)
    assert answer.status == status and answer.retry_after == 7
    assert answer.head == "slow down"


async def test_retry_after_as_an_http_date_is_seconds_from_now(
    sender: Sender, receiver: tuple[Receiver, str]
) -> None:
    app, base = receiver
    when = datetime.now(UTC) + timedelta(seconds=120)
    app.answers["/in"] = (429, [("retry-after", format_datetime(when, usegmt=True))], b"")
    answer = await sender.post(f"{base}/in", BODY, HEADERS)
    assert answer.retry_after is not None and 60 < answer.retry_after <= 121


async def test_retry_after_is_ignored_on_other_statuses(
    sender: Sender, receiver: tuple[Receiver, str]
) -> None:
    app, base = receiver
    app.answers["/in"] = (500, [("retry-after", "7")], b"")
    answer = await sender.post(f"{base}/in", BODY, HEADERS)
    assert answer.status == 500 and answer.retry_after is None and answer.error is None


def test_retry_after_parsing() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("0", now) == 0
    assert retry_after_seconds("Thu, 01 Jan 2026 00:01:00 GMT", now) == 60
    assert retry_after_seconds("Wed, 31 Dec 2025 00:00:00 GMT", now) == 0  # past
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("-3", now) is None
    assert retry_after_seconds(None, now) is None


async def test_the_head_keeps_the_first_256_bytes_decoded_leniently(
    sender: Sender, receiver: tuple[Receiver, str]
) -> None:
    app, base = receiver
    app.answers["/in"] = (400, [], b"\xff" + b"e" * 1000)
    answer = await sender.post(f"{base}/in", BODY, HEADERS)
    assert answer.status == 400
    assert answer.head == "\ufffd" + "e" * (HEAD_BYTES - 1)


# Hostile receivers (raw sockets)


async def test_a_receiver_that_never_answers_times_out(raw_provider: RawProviders) -> None:
    provider = raw_provider([ReadRequest(), Hang()])
    sending = Sender(allow_private=True, timeout=0.5)
    try:
        answer = await sending.post(f"{provider.url}/in", BODY, HEADERS)
    finally:
        await sending.aclose()
    assert answer.error == "timeout" and answer.status is None
    assert 400 <= answer.latency_ms < SAFETY_SECONDS * 1000
    assert len(provider.requests) == 1
    assert provider.wait_done(SAFETY_SECONDS)  # we hung up


async def test_a_body_that_trickles_past_the_deadline_keeps_the_status(
    raw_provider: RawProviders,
) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"
    provider = raw_provider([ReadRequest(), SendBytes(head), Hang()])
    sending = Sender(allow_private=True, timeout=0.5)
    try:
        answer = await sending.post(f"{provider.url}/in", BODY, HEADERS)
    finally:
        await sending.aclose()
    assert answer.status == 200 and answer.delivered and answer.head == "partial"


async def test_a_huge_answer_is_read_only_up_to_the_cap(raw_provider: RawProviders) -> None:
    size = 10 * MB
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode()
    provider = raw_provider(
        [ReadRequest(), SendBytes(head), Stream(repeated(b"x" * 1024, size // 1024)), Close()]
    )
    sending = Sender(allow_private=True, timeout=10.0, max_answer_bytes=65536)
    try:
        answer = await sending.post(f"{provider.url}/in", BODY, HEADERS)
    finally:
        await sending.aclose()
    assert answer.status == 200 and answer.error is None
    assert answer.head == "x" * HEAD_BYTES
    assert provider.wait_done(SAFETY_SECONDS)
    (connection,) = provider.connections
    assert connection.hung_up  # we closed the connection rather than draining 10 MB


async def test_answer_headers_without_end_are_too_large(raw_provider: RawProviders) -> None:
    flood = Stream(repeated(b"X-Filler: " + b"y" * 100 + b"\r\n"), most=2 * MB)
    provider = raw_provider([ReadRequest(), SendBytes(b"HTTP/1.1 200 OK\r\n"), flood, Close()])
    sending = Sender(allow_private=True, timeout=10.0)
    try:
        answer = await sending.post(f"{provider.url}/in", BODY, HEADERS)
    finally:
        await sending.aclose()
    assert answer.error == "too_large" and answer.status is None


async def test_garbage_instead_of_http_is_a_protocol_error(raw_provider: RawProviders) -> None:
    provider = raw_provider([ReadRequest(), SendBytes(b"SMTP ready\r\n\r\n"), Close()])
    sending = Sender(allow_private=True, timeout=5.0)
    try:
        answer = await sending.post(f"{provider.url}/in", BODY, HEADERS)
    finally:
        await sending.aclose()
    assert answer.error == "protocol" and answer.status is None


async def test_a_closed_port_is_a_connect_error(sender: Sender) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    answer = await sender.post(f"http://127.0.0.1:{port}/", BODY, HEADERS)
    assert answer.error == "connect" and answer.status is None


async def test_an_untrusted_certificate_is_a_tls_error(raw_provider: RawProviders) -> None:
    provider = raw_provider([ReadRequest(), Close()], tls=Tls.untrusted())
    sending = Sender(allow_private=True, timeout=5.0)
    try:
        answer = await sending.post(f"{provider.url}/in", BODY, HEADERS)
    finally:
        await sending.aclose()
    assert answer.error == "tls" and answer.status is None


async def test_concurrent_posts_share_the_bounded_pool(
    sender: Sender, receiver: tuple[Receiver, str]
) -> None:
    app, base = receiver
    answers = await asyncio.gather(*(sender.post(f"{base}/in", BODY, HEADERS) for _ in range(20)))
    assert all(answer.delivered for answer in answers)
    assert len(app.requests) == 20
