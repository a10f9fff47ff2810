"""What one provider call costs the server's CPU, by HTTP client and JSON decoder.

The peer benchmark's Wix-shaped upstream runs in its own process (`node` must be
installed); each client sends the same bookings query (ten contacts: a page of 100
bookings, about 60 KB of JSON) over one kept-alive connection, one call at a time. Printed:
this process's CPU time per call, and per decode of that page. On uvloop, as the server
runs; aiohttp is measured too when it is installed (it is not a dependency).

    python benchmarks/http_clients.py [--calls 2000] [--peer-bench ../shared/peer-bench]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import msgspec
import orjson
import uvloop

from server.providers.http import ProviderHttp, UpstreamLimits
from server.providers.http1 import Http1Transport
from server.providers.wix import mapping

# The tests' reference client (tests/ is not an installed package).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.kept_client import KeptTransport  # noqa: E402

# The request benchmark's helpers, beside this file (benchmarks/ is not a package).
_spec = importlib.util.spec_from_file_location(
    "request_benchmark", Path(__file__).resolve().parent / "requests.py"
)
assert _spec is not None and _spec.loader is not None
request_benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(request_benchmark)

PATH = "/_api/bookings-reader/v2/extended-bookings/query"
HEADERS = {"Authorization": "bench-key", "wix-site-id": "site-bench"}


def _body(contacts: list[str]) -> dict[str, object]:
    return {
        "query": {
            "filter": {"contactDetails.contactId": {"$in": contacts}},
            "cursorPaging": {"limit": 100},
        }
    }


async def _cpu_per_call(calls: int, call: Callable[[], Awaitable[object]]) -> float:
    for _ in range(50):
        await call()
    started = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - started) / calls * 1000


async def measure(upstream: str, calls: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=upstream, headers=HEADERS) as plain:
        contacts = plain.post(
            "/contacts/v4/contacts/query", json={"query": {"cursorPaging": {"limit": 10}}}
        )
        ids = [c["id"] for c in (await contacts).json()["contacts"]]
    body = _body(ids)
    figures: dict[str, float] = {}

    async with httpx.AsyncClient(base_url=upstream, headers=HEADERS) as client:

        async def with_httpx() -> object:
            return (await client.post(PATH, json=body)).content

        figures["httpx, default transport"] = await _cpu_per_call(calls, with_httpx)

    try:
        import aiohttp
    except ImportError:
        aiohttp = None
    if aiohttp is not None:
        async with aiohttp.ClientSession(upstream, headers=HEADERS) as session:

            async def with_aiohttp() -> object:
                async with session.post(PATH, data=orjson.dumps(body)) as response:
                    return await response.read()

            figures["aiohttp"] = await _cpu_per_call(calls, with_aiohttp)

    http1 = Http1Transport()
    encoded = orjson.dumps(body)
    sent = {**HEADERS, "Content-Type": "application/json"}

    async def with_http1() -> object:
        return await http1.send("POST", upstream + PATH, sent, encoded, 8 << 20)

    figures["Http1Transport (the server's transport)"] = await _cpu_per_call(calls, with_http1)
    await http1.close()

    limits = UpstreamLimits(timeout_seconds=10, max_bytes=8 << 20, max_pages=100)
    for name, transport in (
        ("ProviderHttp over Http1Transport (the server's path)", Http1Transport()),
        ("ProviderHttp over httpx (the tests' reference client)", KeptTransport()),
    ):
        http = ProviderHttp(
            transport, provider="wix", base_url=upstream, headers=HEADERS, limits=limits
        )

        async def through_provider_http(http: ProviderHttp = http) -> object:
            return await http.post(PATH, body, mapping.BookingsPage)

        figures[name] = await _cpu_per_call(calls, through_provider_http)
        await transport.close()

    async with httpx.AsyncClient(base_url=upstream, headers=HEADERS) as client:
        page = (await client.post(PATH, json=body)).content
    decoder = msgspec.json.Decoder(mapping.BookingsPage)
    for name, decode in (
        ("json.loads", json.loads),
        ("orjson.loads", orjson.loads),
        ("msgspec into the documented types", decoder.decode),
    ):
        started = time.process_time()
        for _ in range(calls):
            decode(page)
        figures[f"decode {len(page) // 1000} KB: {name}"] = (
            (time.process_time() - started) / calls * 1000
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument(
        "--peer-bench", type=Path, default=request_benchmark.ROOT.parent / "shared" / "peer-bench"
    )
    arguments = parser.parse_args()
    port = request_benchmark.free_port()
    node = subprocess.Popen(
        ["node", str(arguments.peer_bench / "upstream" / "server.js")],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
    )
    upstream = f"http://127.0.0.1:{port}"
    try:
        request_benchmark.wait_for(f"{upstream}/__stats", node)
        figures = uvloop.run(measure(upstream, arguments.calls))
    finally:
        node.terminate()
        node.wait()
    for name, milliseconds in figures.items():
        print(f"{milliseconds:7.3f} ms CPU  {name}")


if __name__ == "__main__":
    main()
