"""Requests per second, latency percentiles and upstream calls per request for the Business
API document's example query, served over the emulated Wix site.

By default the server and the emulator run in this process and requests go through
httpx's ASGI transport (the server's own cost, no sockets). With --url and --key it
sends the same requests over real HTTP to a running server (`business-api demo` prints
both); upstream calls are then not counted.

    python benchmarks/requests.py [--requests 400] [--concurrency 8] [--url URL --key KEY]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from server.app import create_app
from server.http.graphiql import EXAMPLE_QUERY
from server.providers.wix.dataset import generate_dataset
from server.providers.wix.emulator import WixEmulator, create_emulator
from server.settings import Settings
from server.store.database import migrate


async def _in_process(folder: Path) -> tuple[httpx.AsyncClient, str, WixEmulator]:
    emulator = create_emulator(generate_dataset(seed=7, contacts=300), api_key="k", site_id="s")
    upstream = Starlette(routes=[Mount("/wix", app=emulator.app)])
    settings = Settings.from_environ(
        {
            "BUSINESS_API_SECRET_KEY": "benchmark-secret-key-0123456789",
            "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'bench.db'}",
            "BUSINESS_API_KEY_RATE_LIMIT": "10000000",
            "BUSINESS_API_BUSINESS_RATE_LIMIT": "10000000",
        }
    )
    app = create_app(settings, upstream=httpx.ASGITransport(app=upstream))
    services = app.state.services
    await migrate(services.engine)
    business = await services.store.create_business("bench", "Benchmark Studio")
    await services.store.add_connection(
        business.id,
        provider="wix",
        base_url="http://wix/wix",
        account_id="s",
        credential="k",
        mode="live",
    )
    _, key = await services.store.create_api_key(
        business.id, name="bench", scopes=list(services.policy.scopes)
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60
    )
    return client, f"/@bench/api/graphql|{key}", emulator


async def _run(
    client: httpx.AsyncClient, url: str, key: str, total: int, width: int
) -> list[float]:
    latencies: list[float] = []
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            began = time.perf_counter()
            response = await client.post(
                url, json={"query": EXAMPLE_QUERY}, headers={"Authorization": f"Bearer {key}"}
            )
            latencies.append((time.perf_counter() - began) * 1000)
            body = response.json()
            if response.status_code != 200 or "errors" in body:
                raise SystemExit(f"unexpected answer: {response.status_code} {body}")

    await asyncio.gather(*(worker() for _ in range(width)))
    return latencies


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--url", help="a running server's GraphQL endpoint")
    parser.add_argument("--key", help="an API key for that server")
    arguments = parser.parse_args()

    emulator = None
    with tempfile.TemporaryDirectory() as folder:
        if arguments.url:
            client, url, key = httpx.AsyncClient(timeout=60), arguments.url, arguments.key
        else:
            client, target, emulator = await _in_process(Path(folder))
            url, key = target.split("|")
        await _run(client, url, key, 20, 4)  # warm up
        if emulator:
            emulator.reset_counts()
        began = time.perf_counter()
        latencies = await _run(client, url, key, arguments.requests, arguments.concurrency)
        elapsed = time.perf_counter() - began
        await client.aclose()

    where = "over HTTP" if arguments.url else "in process"
    print(f"example query (25 participants with consent, registrations, purchases), {where}")
    print(
        f"{arguments.requests} requests, {arguments.concurrency} at a time: "
        f"{arguments.requests / elapsed:.1f} requests/s; latency "
        f"p50 {_percentile(latencies, 0.5):.1f} ms  p95 {_percentile(latencies, 0.95):.1f} ms  "
        f"p99 {_percentile(latencies, 0.99):.1f} ms  mean {statistics.fmean(latencies):.1f} ms"
    )
    if emulator:
        per_request = {n: c / arguments.requests for n, c in sorted(emulator.requests.items())}
        calls = ", ".join(f"{name} {count:g}" for name, count in per_request.items())
        print(f"upstream calls per request: {sum(per_request.values()):g} ({calls})")


if __name__ == "__main__":
    asyncio.run(main())
