"""The raw provider itself (`tests/raw_provider.py`): it sends exactly what its script
says, records what it was asked, notices a client hanging up, and always stops.

Its clients here are plain blocking sockets (and the production transport once), so a
failure is the fixture's, not a client's.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

from server.providers.http import ProviderHttp, UpstreamLimits
from server.providers.http1 import Http1Transport
from tests.raw_provider import (
    STOP_SECONDS,
    Hang,
    RawProvider,
    RawProviders,
    ReadRequest,
    Reset,
    Send,
    Stream,
    Tls,
    Trickle,
    generated,
    raw_provider,
    repeated,
)

__all__ = ["raw_provider"]

WAIT = 5.0  # every wait here is bounded
ANSWER = b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"call": 1}'
REQUEST = b"POST /x HTTP/1.1\r\nHost: p\r\nContent-Length: 4\r\n\r\nbody"


def connect(provider: RawProvider) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", provider.port), timeout=WAIT)
    sock.settimeout(WAIT)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the provider closes."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, f"closed after {len(data)} of {count} bytes"
        data += chunk
    return data


def test_it_answers_what_the_script_says_and_records_the_request(
    raw_provider: RawProviders,
) -> None:
    provider = raw_provider((ReadRequest(), Send(ANSWER), Send(b"extra")))
    with connect(provider) as sock:
        sock.sendall(REQUEST)
        assert read_exactly(sock, len(ANSWER) + 5) == ANSWER + b"extra"
    assert provider.wait_done(WAIT)
    [record] = provider.connections
    assert record.requests == [REQUEST]
    assert record.sent == len(ANSWER) + 5
    assert record.hung_up  # the script had ended: it waited, idle, for the client to go


def test_a_kept_connection_takes_requests_one_after_the_other(
    raw_provider: RawProviders,
) -> None:
    second = ANSWER.replace(b"1}", b"2}")
    provider = raw_provider((ReadRequest(), Send(ANSWER), ReadRequest(), Send(second)))
    with connect(provider) as sock:
        sock.sendall(REQUEST)
        assert read_exactly(sock, len(ANSWER)) == ANSWER
        sock.sendall(REQUEST.replace(b"/x", b"/y"))
        assert read_exactly(sock, len(second)) == second
    assert provider.wait_done(WAIT)
    assert provider.requests == [REQUEST, REQUEST.replace(b"/x", b"/y")]
    assert len(provider.connections) == 1


def test_each_connection_follows_its_script_and_the_last_repeats(
    raw_provider: RawProviders,
) -> None:
    provider = raw_provider((Send(b"first"), ReadRequest(), Reset()), (Send(b"later"), Hang()))
    with connect(provider) as sock:
        assert read_exactly(sock, 5) == b"first"
        sock.sendall(REQUEST)
        with pytest.raises(ConnectionResetError):
            sock.recv(1)
    for _ in range(2):
        with connect(provider) as sock:
            assert read_exactly(sock, 5) == b"later"
    assert provider.wait_done(WAIT)
    assert [record.index for record in provider.connections] == [0, 1, 2]
    assert [record.hung_up for record in provider.connections] == [False, True, True]


def test_a_flood_is_generated_lazily(raw_provider: RawProviders) -> None:
    lines = generated(lambda n: b"X-%d: v\r\n" % n, 100_000)
    expected = b"".join(b"X-%d: v\r\n" % n for n in range(100_000))
    provider = raw_provider((Stream(lines), Send(b"end")))
    with connect(provider) as sock:
        assert read_exactly(sock, len(expected) + 3) == expected + b"end"
    assert provider.wait_done(WAIT)
    assert provider.sent == len(expected) + 3


def test_a_trickle_is_paced(raw_provider: RawProviders) -> None:
    provider = raw_provider((Trickle(b"abcdef", size=2, every=0.05),))
    started = time.monotonic()
    with connect(provider) as sock:
        assert read_exactly(sock, 6) == b"abcdef"
    # Two pauses between three pieces, all after the connection began: never less.
    assert time.monotonic() - started >= 0.09


def test_an_endless_flood_ends_when_the_client_hangs_up(raw_provider: RawProviders) -> None:
    provider = raw_provider((Stream(repeated(b"X-Trailer: forever\r\n")),))
    with connect(provider) as sock:
        read_exactly(sock, 1_000_000)
    assert provider.wait_done(WAIT)
    [record] = provider.connections
    assert record.hung_up
    assert record.sent >= 1_000_000


def test_a_bounded_flood_stops_at_its_ceiling(raw_provider: RawProviders) -> None:
    provider = raw_provider((Stream(repeated(b"0123456789"), most=12_345), Send(b"!")))
    with connect(provider) as sock:
        data = read_exactly(sock, 12_346)
    assert data == (b"0123456789" * 1235)[:12_345] + b"!"


def test_a_hang_keeps_what_the_client_sends_until_it_goes(raw_provider: RawProviders) -> None:
    provider = raw_provider((ReadRequest(), Hang()))
    with connect(provider) as sock:
        sock.sendall(REQUEST + b"more")
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(1)
    assert provider.wait_done(WAIT)
    [record] = provider.connections
    assert (record.requests, record.unread, record.hung_up, record.sent) == (
        [REQUEST],
        b"more",
        True,
        0,
    )


def test_stopping_ends_every_thread_whatever_it_was_doing() -> None:
    """Hanging, or blocked sending to a client that reads nothing: stop() ends both."""
    provider = RawProvider((Hang(),), (Stream(repeated(b"x" * 1000)),)).start()
    socks = [connect(provider), connect(provider)]
    time.sleep(0.2)  # the second is now blocked: the client's buffers are full
    started = time.monotonic()
    provider.stop()
    assert time.monotonic() - started < STOP_SECONDS
    assert not [t for t in threading.enumerate() if t.name.startswith(provider.thread_prefix)]
    for sock in socks:
        sock.close()
    assert [record.finished.is_set() for record in provider.connections] == [True, True]


def test_the_context_manager_stops_it() -> None:
    with RawProvider((ReadRequest(), Send(ANSWER))) as provider, connect(provider) as sock:
        sock.sendall(REQUEST)
        assert read_exactly(sock, len(ANSWER)) == ANSWER
    with pytest.raises(OSError):
        connect(provider)


def test_tls_is_served_with_a_certificate_the_client_context_trusts(
    raw_provider: RawProviders,
) -> None:
    provider = raw_provider((ReadRequest(), Send(ANSWER)), tls=Tls.trusted())
    assert provider.url.startswith("https://127.0.0.1:")
    assert provider.client_context is not None
    for name in ("127.0.0.1", "localhost"):
        with (
            connect(provider) as raw,
            provider.client_context.wrap_socket(raw, server_hostname=name) as sock,
        ):
            sock.sendall(REQUEST)
            assert read_exactly(sock, len(ANSWER)) == ANSWER


def test_a_slow_tls_client_still_gets_its_handshake(raw_provider: RawProviders) -> None:
    """The provider's handshake waits in short slices (to notice stopping): a client that
    begins later than one slice still completes it."""
    provider = raw_provider((ReadRequest(), Send(ANSWER)), tls=Tls.trusted())
    assert provider.client_context is not None
    with connect(provider) as raw:
        time.sleep(0.3)
        with provider.client_context.wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(REQUEST)
            assert read_exactly(sock, len(ANSWER)) == ANSWER


def test_an_untrusted_certificate_fails_verification(raw_provider: RawProviders) -> None:
    provider = raw_provider((ReadRequest(), Send(ANSWER)), tls=Tls.untrusted())
    assert provider.client_context is not None
    with (
        connect(provider) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        provider.client_context.wrap_socket(raw, server_hostname="127.0.0.1")
    assert provider.wait_done(WAIT)
    assert provider.connections[0].error is not None  # its handshake failed too


async def test_the_production_transport_reads_a_scripted_answer(
    raw_provider: RawProviders,
) -> None:
    provider = raw_provider((ReadRequest(), Send(ANSWER)), tls=Tls.trusted())
    transport = Http1Transport(tls=provider.client_context)
    http = ProviderHttp(
        transport,
        provider="raw",
        base_url=provider.url,
        headers={"Authorization": "Bearer t"},
        limits=UpstreamLimits(timeout_seconds=2.0, attempts=1),
    )
    try:
        assert await http.get("/x", dict) == {"call": 1}
    finally:
        await transport.close()
    [request] = provider.requests
    assert request.startswith(b"GET /x HTTP/1.1\r\n")
    assert b"\r\nAuthorization: Bearer t\r\n" in request
