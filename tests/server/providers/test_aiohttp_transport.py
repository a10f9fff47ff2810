"""The server's own transport (aiohttp, over a real socket) keeps the cap on the bytes read
per response whichever way the body arrives: a declared length over the cap, a compressed
body that inflates past it, a chunked body without a length; and a body within the cap
that says its length is read whole."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import pytest

from server.providers.errors import InvalidResponse
from server.providers.http import AiohttpTransport, ProviderHttp, UpstreamLimits

CAP = 10_000
WITHIN = b'{"items": [' + b",".join(b'"%d"' % i for i in range(1000)) + b"]}"
assert len(WITHIN) < CAP


def _answer(headers: dict[str, str], body: bytes) -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{head}\r\n".encode() + body


def _chunked(body: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in [body[:5000], body[5000:]])


inflating = b'{"items": ["' + b"x" * (CAP * 20) + b'"]}'
ANSWERS = {
    "/within": _answer({"Content-Length": str(len(WITHIN))}, WITHIN),
    "/declared-too-long": _answer({"Content-Length": str(CAP + 1)}, b" " * (CAP + 1)),
    "/inflates-too-far": _answer(
        {"Content-Encoding": "gzip", "Content-Length": str(len(gzip.compress(inflating)))},
        gzip.compress(inflating),
    ),
    "/chunked-too-long": _answer(
        {"Transfer-Encoding": "chunked"}, _chunked(b'{"items": ["' + b"y" * CAP + b'"]}')
    ),
}


@pytest.fixture
async def provider() -> AsyncIterator[str]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        path = request.split(b" ")[1].decode()
        writer.write(ANSWERS[path])
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


async def _get(base_url: str, path: str) -> object:
    transport = AiohttpTransport()
    http = ProviderHttp(
        transport,
        provider="capped",
        base_url=base_url,
        headers={},
        limits=UpstreamLimits(max_bytes=CAP, attempts=1),
    )
    try:
        return await http.get(path, dict)
    finally:
        await transport.close()


async def test_a_body_within_the_cap_that_says_its_length_is_read_whole(provider: str) -> None:
    assert await _get(provider, "/within") == {"items": [str(i) for i in range(1000)]}


@pytest.mark.parametrize("path", ["/declared-too-long", "/inflates-too-far", "/chunked-too-long"])
async def test_a_body_over_the_cap_is_refused_however_it_arrives(provider: str, path: str) -> None:
    with pytest.raises(InvalidResponse, match=f"larger than {CAP} bytes"):
        await _get(provider, path)
