"""The server's own transport to providers (`Http1Transport`, over a real socket).

It keeps the cap on the bytes read per response whichever way the body arrives, asks for
and accepts only uncompressed bodies, reads bodies by length, in chunks or to the close,
keeps connections alive and reuses them, sends a request the provider had closed the kept
connection under once more on a new one, and says why a provider did not answer. An answer
is only its own bytes: trailers are not kept as headers, same-named headers are joined in
order, and bytes past the answer close the connection and never change the returned reply.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable

import pytest

from server.providers.errors import InvalidResponse, ProviderUnreachable
from server.providers.http import ProviderHttp, UpstreamLimits
from server.providers.http1 import Http1Transport

CAP = 10_000
WITHIN = b'{"items": [' + b",".join(b'"%d"' % i for i in range(1000)) + b"]}"
ITEMS = {"items": [str(i) for i in range(1000)]}
assert len(WITHIN) < CAP


def _answer(headers: dict[str, str], body: bytes, status: str = "200 OK") -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{head}\r\n".encode() + body


def _chunked(body: bytes) -> bytes:
    parts = [body[i : i + 3000] for i in range(0, len(body), 3000)] + [b""]
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)


SIZED = _answer({"Content-Length": str(len(WITHIN))}, WITHIN)
ANSWERS: dict[str, bytes] = {
    "/sized": SIZED,
    "/chunked": _answer({"Transfer-Encoding": "chunked"}, _chunked(WITHIN)),
    "/to-the-close": _answer({"Connection": "close"}, WITHIN),
    "/declared-too-long": _answer({"Content-Length": str(CAP + 1)}, b" " * (CAP + 1)),
    "/chunked-too-long": _answer(
        {"Transfer-Encoding": "chunked"}, _chunked(b'{"items": ["' + b"y" * CAP + b'"]}')
    ),
    "/compressed": _answer(
        {"Content-Encoding": "gzip", "Content-Length": str(len(gzip.compress(WITHIN)))},
        gzip.compress(WITHIN),
    ),
    "/cut-off": _answer({"Content-Length": str(len(WITHIN))}, WITHIN[:100]),
    "/with-stray": SIZED
    + _answer({"Content-Length": "20", "X-Stray": "yes"}, b'{"stray": "answer"}'),
    "/trailers": _answer(
        {"Transfer-Encoding": "chunked"}, _chunked(WITHIN)[:-2] + b"X-Trailer: late\r\n\r\n"
    ),
    "/repeated": _answer(
        {"Content-Length": str(len(WITHIN)), "X-Same": "one", "x-same": "two", "X-SAME": "three"},
        WITHIN,
    ),
    "/not-http": b"SSH-2.0-OpenSSH_9.2\r\n",
    "/silent": b"",
}
CLOSES = {"/to-the-close", "/cut-off", "/not-http", "/silent"}


class Provider:
    """A provider over a real socket: what it was asked and on how many connections."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.connections = 0
        self.close_after_answer = False
        self.url = ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                self.requests.append(head + await reader.readexactly(length))
                path = head.split(b" ")[1].decode().partition("?")[0]
                writer.write(ANSWERS[path])
                await writer.drain()
                if path in CLOSES or self.close_after_answer:
                    break
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    found = Provider()
    server = await asyncio.start_server(found.serve, "127.0.0.1", 0)
    found.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        yield found


@pytest.fixture
async def get() -> AsyncIterator[Callable[..., object]]:
    transport = Http1Transport()

    async def get(base_url: str, path: str, body: object = None) -> object:
        http = ProviderHttp(
            transport,
            provider="capped",
            base_url=base_url,
            headers={"Authorization": "Bearer credential"},
            limits=UpstreamLimits(max_bytes=CAP, attempts=1),
        )
        if body is not None:
            return await http.post(path, body, dict)
        return await http.get(path, dict)

    yield get
    await transport.close()


@pytest.mark.parametrize("path", ["/sized", "/chunked", "/to-the-close"])
async def test_a_body_within_the_cap_is_read_whole_however_it_arrives(
    provider: Provider, get: Callable[..., object], path: str
) -> None:
    assert await get(provider.url, path) == ITEMS  # type: ignore[misc]


@pytest.mark.parametrize("path", ["/declared-too-long", "/chunked-too-long"])
async def test_a_body_over_the_cap_is_refused(
    provider: Provider, get: Callable[..., object], path: str
) -> None:
    with pytest.raises(InvalidResponse, match=f"larger than {CAP} bytes"):
        await get(provider.url, path)  # type: ignore[misc]


async def test_a_body_is_asked_for_uncompressed_and_a_compressed_one_refused(
    provider: Provider, get: Callable[..., object]
) -> None:
    with pytest.raises(InvalidResponse, match="compressed"):
        await get(provider.url, "/compressed")  # type: ignore[misc]
    assert b"\r\nAccept-Encoding: identity\r\n" in provider.requests[0]


async def test_the_request_says_its_host_its_headers_and_its_body(
    provider: Provider, get: Callable[..., object]
) -> None:
    assert await get(provider.url, "/sized?page=2", {"query": {"limit": 100}}) == ITEMS  # type: ignore[misc]
    head, body = provider.requests[0].split(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /sized?page=2 HTTP/1.1"
    assert f"Host: {provider.url.removeprefix('http://')}" in lines
    assert "Authorization: Bearer credential" in lines
    assert "Content-Type: application/json" in lines
    assert body == b'{"query":{"limit":100}}'


async def test_a_kept_connection_is_reused(provider: Provider, get: Callable[..., object]) -> None:
    for _ in range(5):
        assert await get(provider.url, "/sized") == ITEMS  # type: ignore[misc]
    assert provider.connections == 1


async def test_a_request_on_a_connection_the_provider_closed_goes_again_on_a_new_one(
    provider: Provider, get: Callable[..., object]
) -> None:
    provider.close_after_answer = True  # as a provider whose keep-alive timeout passed
    for _ in range(3):
        assert await get(provider.url, "/sized") == ITEMS  # type: ignore[misc]
        await asyncio.sleep(0.05)
    assert provider.connections == 3


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/cut-off", "the answer was cut off"),
        ("/not-http", "the answer was not HTTP"),
        ("/silent", "closed the connection without answering"),
    ],
)
async def test_a_provider_that_does_not_answer_properly_is_unreachable_and_says_why(
    provider: Provider, get: Callable[..., object], path: str, reason: str
) -> None:
    with pytest.raises(ProviderUnreachable) as raised:
        await get(provider.url, path)  # type: ignore[misc]
    assert raised.value.reason == reason


async def test_a_refused_connection_says_so(get: Callable[..., object]) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(ProviderUnreachable) as raised:
        await get(f"http://127.0.0.1:{port}", "/sized")  # type: ignore[misc]
    assert raised.value.reason == "connection refused"


async def test_a_header_with_a_line_break_is_never_sent(provider: Provider) -> None:
    transport = Http1Transport()
    http = ProviderHttp(
        transport,
        provider="capped",
        base_url=provider.url,
        headers={"Authorization": "Bearer x\r\nX-Injected: 1"},
        limits=UpstreamLimits(max_bytes=CAP, attempts=1),
    )
    with pytest.raises(ProviderUnreachable):
        await http.get("/sized", dict)
    await transport.close()
    assert provider.requests == []


async def test_bytes_past_an_answer_close_its_connection_and_never_change_the_reply(
    provider: Provider,
) -> None:
    transport = Http1Transport()
    reply = await transport.send("GET", f"{provider.url}/with-stray", {}, None, CAP)
    seen = dict(reply.headers)
    assert seen == {"content-type": "application/json", "content-length": str(len(WITHIN))}
    assert reply.body == WITHIN
    again = await transport.send("GET", f"{provider.url}/sized", {}, None, CAP)
    assert again.body == WITHIN
    await asyncio.sleep(0.05)
    assert dict(reply.headers) == seen and reply.body == WITHIN
    assert provider.connections == 2  # the first, with the stray answer on it, was closed
    await transport.close()


async def test_trailers_are_read_but_not_kept_as_headers(provider: Provider) -> None:
    transport = Http1Transport()
    reply = await transport.send("GET", f"{provider.url}/trailers", {}, None, CAP)
    assert reply.body == WITHIN
    assert "x-trailer" not in reply.headers
    await transport.close()


async def test_same_named_headers_are_joined_in_order(provider: Provider) -> None:
    transport = Http1Transport()
    reply = await transport.send("GET", f"{provider.url}/repeated", {}, None, CAP)
    assert reply.headers["x-same"] == "one, two, three"
    await transport.close()
