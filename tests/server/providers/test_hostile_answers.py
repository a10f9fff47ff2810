"""Answers no HTTP server would give, through the server as production runs it.

A business is connected to Wix, whose base URL is a raw provider (`tests/raw_provider.py`)
answering with bytes the test writes: heads and trailers that never end, a header line
that never ends, a hundred thousand same-named headers, a chunk extension that never
ends, megabytes of one-byte chunks, interim answers before the answer, bytes past the end
of an answer. The server is built with `create_app` and queried in process through httpx's
ASGI transport; its provider calls go over the production transport, over TCP.

Whatever the provider sends, the participants come back as UPSTREAM_UNAVAILABLE (or, after
interim answers, as the answer that followed), within bounded memory (tracemalloc's peak
while the query runs), without holding the event loop (`LoopLag`, the lag a concurrent
`/healthz` would wait, and real `/healthz` requests sent meanwhile), having read a bounded
part of the flood, and before a single provider call's deadline (the server refused the
answer, it did not wait it out).
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.loop_lag import LoopLag
from tests.raw_provider import (
    Hang,
    RawProvider,
    RawProviders,
    ReadRequest,
    Repeat,
    Script,
    Send,
    Stream,
    generated,
    raw_provider,
    repeated,
)
from tests.server.providers.raw_server import (
    BUSINESSES,
    CHUNKED_HEAD,
    JSON,
    MAX_UPSTREAM_BYTES,
    NAMES,
    UPSTREAM_TIMEOUT,
    OpenServer,
    Server,
    answer,
    contacts_body,
    names_of,
    open_server,
    participant_names,
)

__all__ = ["open_server", "raw_provider"]

FLOOD = 64 * 1024 * 1024  # an "endless" flood stops here (then the provider hangs)
MOST_READ = FLOOD // 4  # per connection: the rest of a flood must never be read
MOST_MEMORY = 20 * 1024 * 1024  # tracemalloc's peak while the query runs
MOST_LAG = 0.1  # the event loop's worst lag while the query runs


@dataclass(frozen=True)
class Measured:
    responses: list[httpx.Response]  # the query's, once per pass
    lag: float  # the event loop's worst lag while the query ran, in seconds
    seconds: float
    health: list[int]  # the statuses of the /healthz requests sent while it ran
    peak: int  # tracemalloc's peak over what was traced before the query, in bytes


async def measured(server: Server, document: str = NAMES) -> Measured:
    """The query twice: once for the event loop's lag and the time taken, with /healthz
    requests sent meanwhile; once under tracemalloc for the memory (tracing slows every
    allocation, so it would swell the lag). The provider misbehaves alike both times."""
    started = time.monotonic()
    health: list[int] = []
    async with LoopLag() as lag:
        query = asyncio.create_task(server.query(document))
        while not query.done():
            health.append((await server.client.get("/healthz")).status_code)
            await asyncio.wait({query}, timeout=0.01)
        first = await query
    seconds = time.monotonic() - started
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        second = await server.query(document)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Measured([first, second], lag.worst, seconds, health, peak - before)


def participants_unavailable(response: httpx.Response) -> None:
    """The participants list failed as UPSTREAM_UNAVAILABLE from Wix; the business's own
    name still answers."""
    assert response.status_code == 200, response.text
    body = response.json()
    errors = body.get("errors")
    assert errors, body
    assert [e["path"] for e in errors] == [["activeBusiness", "participants"]], errors
    assert {e["extensions"]["code"] for e in errors} == {"UPSTREAM_UNAVAILABLE"}
    assert {e["extensions"]["provider"] for e in errors} == {"wix"}
    assert body["data"]["activeBusiness"]["name"] == BUSINESSES["tremble"]


def assert_bounded(run: Measured, provider: RawProvider) -> None:
    """Bounded memory, no held event loop, healthz answered meanwhile, a bounded part of
    the flood read on every connection, and refused before a call's deadline."""
    assert run.peak < MOST_MEMORY, f"{run.peak / 1e6:.1f} MB traced at the peak"
    assert run.lag < MOST_LAG, f"the event loop lagged {run.lag:.3f} s"
    assert run.health and set(run.health) == {200}, run.health
    read = [record.sent for record in provider.connections]
    assert read and max(read) < MOST_READ, read
    assert run.seconds < UPSTREAM_TIMEOUT, f"{run.seconds:.2f} s: waited out, not refused"


# 1. Heads and trailers without bounds; 2. repeats and tiny chunks ----------------------


def endless_header_line() -> Script:
    return (
        ReadRequest(),
        Send(b"HTTP/1.1 200 OK\r\n" + JSON + b"X-Huge: "),
        Stream(repeated(b"a" * 1024), FLOOD),
        Hang(),
    )


def endless_headers() -> Script:
    return (
        ReadRequest(),
        Send(b"HTTP/1.1 200 OK\r\n" + JSON),
        Stream(generated(lambda n: b"X-Endless-%d: %s\r\n" % (n, b"v" * 64)), FLOOD),
        Hang(),
    )


def same_named_headers() -> Script:
    body = contacts_body("tremble")
    return (
        ReadRequest(),
        Send(b"HTTP/1.1 200 OK\r\n" + JSON),
        Stream(repeated(b"X-Same: %s\r\n" % (b"s" * 32), 100_000)),
        Send(b"Content-Length: %d\r\n\r\n%s" % (len(body), body)),
    )


def endless_trailers() -> Script:
    body = contacts_body("tremble")
    return (
        ReadRequest(),
        Send(CHUNKED_HEAD + b"%x\r\n%s\r\n0\r\n" % (len(body), body)),
        Stream(generated(lambda n: b"X-Trailer-%d: %s\r\n" % (n, b"v" * 64)), FLOOD),
        Hang(),
    )


def endless_chunk_extension() -> Script:
    return (
        ReadRequest(),
        Send(CHUNKED_HEAD + b"10;ext="),
        Stream(repeated(b"e" * 1024), FLOOD),
        Hang(),
    )


def two_byte_chunks() -> Script:
    """4 MB of two-byte chunks (14 MB on the wire), four times the body cap. (One-byte
    pieces would not show what a piece costs: CPython shares one object per byte value.)"""
    return (
        ReadRequest(),
        Send(CHUNKED_HEAD + b'2\r\n{"\r\n'),
        Stream(repeated(b"2\r\nxx\r\n", 2 * MAX_UPSTREAM_BYTES)),
        Send(b'2\r\n"}\r\n0\r\n\r\n'),
    )


UNBOUNDED: dict[str, Callable[[], Script]] = {
    "a head that never ends": endless_headers,
    "a header line that never ends": endless_header_line,
    "a hundred thousand same-named headers": same_named_headers,
    "trailers that never end": endless_trailers,
    "a chunk extension that never ends": endless_chunk_extension,
    "megabytes of two-byte chunks": two_byte_chunks,
}


@pytest.mark.parametrize("script", UNBOUNDED.values(), ids=UNBOUNDED.keys())
async def test_an_unbounded_answer_is_upstream_unavailable_in_bounded_memory_and_time(
    raw_provider: RawProviders, open_server: OpenServer, script: Callable[[], Script]
) -> None:
    provider = raw_provider(script())
    server = await open_server({"tremble": f"{provider.url}/tremble"})
    run = await measured(server)
    for response in run.responses:
        participants_unavailable(response)
    assert_bounded(run, provider)


# 4. Interim answers --------------------------------------------------------------------


INTERIM = {
    "100 Continue": b"HTTP/1.1 100 Continue\r\n\r\n",
    "103 Early Hints": b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
    "both, then another 100": (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 100 Continue\r\n\r\n"
    ),
}


@pytest.mark.parametrize("interim", INTERIM.values(), ids=INTERIM.keys())
async def test_interim_answers_are_skipped_and_the_answer_after_them_is_read(
    raw_provider: RawProviders, open_server: OpenServer, interim: bytes
) -> None:
    provider = raw_provider((ReadRequest(), Send(interim + answer(contacts_body("tremble")))))
    server = await open_server({"tremble": f"{provider.url}/tremble"})
    assert participant_names(await server.query()) == names_of("tremble")
    assert len(provider.requests) == 1


SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
NO_ANSWER = {
    "endless 100 Continue": (
        (ReadRequest(), Stream(repeated(b"HTTP/1.1 100 Continue\r\n\r\n"), FLOOD), Hang()),
        "interim answers",
    ),
    "101 Switching Protocols": (
        (ReadRequest(), Send(SWITCH + answer(contacts_body("tremble")))),
        "switched protocols",
    ),
}


@pytest.mark.parametrize(("script", "cause"), NO_ANSWER.values(), ids=NO_ANSWER.keys())
async def test_endless_interim_answers_or_a_protocol_switch_are_upstream_unavailable(
    raw_provider: RawProviders,
    open_server: OpenServer,
    caplog: pytest.LogCaptureFixture,
    script: Script,
    cause: str,
) -> None:
    """Neither is an answer, and the operator's log line says which it was."""
    provider = raw_provider(script)
    server = await open_server({"tremble": f"{provider.url}/tremble"})
    run = await measured(server)
    for response in run.responses:
        participants_unavailable(response)
    assert_bounded(run, provider)
    failures = [r.getMessage() for r in caplog.records if "provider call failed" in r.getMessage()]
    assert failures and all(cause in failure for failure in failures), failures


# 3. Bytes past the end of an answer ----------------------------------------------------


async def test_bytes_past_an_answer_never_reach_the_next_call_of_this_or_another_business(
    raw_provider: RawProviders, open_server: OpenServer
) -> None:
    """Both businesses' Wix connections are on one origin. Tremble's provider sends its
    answer and, in the same write, the head of another: the connection it came on is
    closed, not reused, and every later call, Tremble's or Acme's, gets its own answer."""
    stray = answer(contacts_body("stray"))
    first = (
        ReadRequest(),
        Send(answer(contacts_body("tremble")) + stray[: stray.index(b"\r\n\r\n") + 4]),
        ReadRequest(),  # were the connection reused, the next call would get the rest
        Send(stray[stray.index(b"\r\n\r\n") + 4 :]),
    )
    provider = raw_provider(
        first,
        (ReadRequest(), Send(answer(contacts_body("acme")))),
        (ReadRequest(), Send(answer(contacts_body("tremble")))),
    )
    server = await open_server(
        {"tremble": f"{provider.url}/tremble", "acme": f"{provider.url}/acme"}
    )
    assert participant_names(await server.query(handle="tremble")) == names_of("tremble")
    assert participant_names(await server.query(handle="acme")) == names_of("acme")
    assert participant_names(await server.query(handle="tremble")) == names_of("tremble")
    records = provider.connections
    assert len(records) == 3
    assert [len(record.requests) for record in records] == [1, 1, 1]
    assert b"/tremble/" in records[0].requests[0] and b"/acme/" in records[1].requests[0]
    await asyncio.to_thread(records[0].finished.wait, 5.0)
    assert records[0].hung_up  # the server closed it


async def test_two_businesses_on_one_host_never_share_a_kept_connection(
    raw_provider: RawProviders, open_server: OpenServer
) -> None:
    """Pools are per provider connection: each business's calls reuse its own."""
    honest = (Repeat((ReadRequest(), Send(answer(contacts_body("either"))))),)
    provider = raw_provider(honest)
    server = await open_server(
        {"tremble": f"{provider.url}/tremble", "acme": f"{provider.url}/acme"}
    )
    for handle in ("tremble", "acme", "tremble", "acme", "tremble"):
        assert participant_names(await server.query(handle=handle)) == names_of("either")
    tenants = [
        {request.split(b" ")[1].split(b"/")[1] for request in record.requests}
        for record in provider.connections
    ]
    assert sorted(tenants, key=sorted) == [{b"acme"}, {b"tremble"}]
    assert sum(len(record.requests) for record in provider.connections) == 5
