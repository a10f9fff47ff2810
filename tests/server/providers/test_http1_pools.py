"""Kept-alive connections: which calls may reuse one, and for how long.

Pools are per provider connection (a call's `pool`), idle connections age out after
`IDLE_SECONDS` (checked when one is taken, and swept from every pool as connections are put
back: no timer per connection), and a pool keeps at most `MAX_IDLE_PER_POOL`. Time is a
fake clock handed to the transport; connections are counted at a raw provider
(`tests/raw_provider.py`) that answers every request on a connection the same way.
"""

from __future__ import annotations

import asyncio

from server.providers.http1 import IDLE_SECONDS, MAX_IDLE_PER_POOL, Http1Transport
from tests.raw_provider import (
    RawProvider,
    RawProviders,
    ReadRequest,
    Repeat,
    Send,
    Sleep,
    raw_provider,
)

__all__ = ["raw_provider"]

BODY = b'{"ok": true}'
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
HONEST = (Repeat((ReadRequest(), Send(ANSWER))),)
WAIT = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def get(transport: Http1Transport, provider: RawProvider, pool: str | None = None) -> None:
    reply = await transport.send("GET", f"{provider.url}/x", {}, None, 1024, pool=pool)
    assert (reply.status, reply.body) == (200, BODY)


async def hung_up(provider: RawProvider) -> list[bool]:
    """Whether the client closed each connection, once every closed one has been seen."""
    await asyncio.sleep(0.2)  # the provider's threads notice a close within their poll
    return [record.hung_up for record in provider.connections]


async def test_an_idle_connection_is_reused_until_it_is_older_than_the_expiry(
    raw_provider: RawProviders,
) -> None:
    provider = raw_provider(HONEST)
    clock = Clock()
    transport = Http1Transport(clock=clock)
    await get(transport, provider)
    clock.now += IDLE_SECONDS - 1
    await get(transport, provider)
    assert len(provider.connections) == 1
    clock.now += IDLE_SECONDS
    await get(transport, provider)
    assert len(provider.connections) == 2
    assert await hung_up(provider) == [True, False]
    await transport.close()


async def test_a_pool_keeps_a_bounded_number_of_idle_connections(
    raw_provider: RawProviders,
) -> None:
    """More calls finishing at once than a pool keeps: the rest are closed."""
    provider = raw_provider((Repeat((ReadRequest(), Sleep(0.3), Send(ANSWER))),))
    transport = Http1Transport()
    calls = MAX_IDLE_PER_POOL + 8
    await asyncio.gather(*(get(transport, provider) for _ in range(calls)))
    assert len(provider.connections) == calls
    assert transport.idle == MAX_IDLE_PER_POOL
    assert (await hung_up(provider)).count(True) == calls - MAX_IDLE_PER_POOL
    await transport.close()


async def test_old_idle_connections_of_every_pool_are_swept_as_others_are_put_back(
    raw_provider: RawProviders,
) -> None:
    provider = raw_provider(HONEST)
    clock = Clock()
    transport = Http1Transport(clock=clock)
    await get(transport, provider, pool="a")
    clock.now += IDLE_SECONDS
    await get(transport, provider, pool="b")  # put back: pool a's connection is too old
    assert transport.idle == 1
    assert await hung_up(provider) == [True, False]
    await transport.close()


async def test_calls_of_different_pools_never_share_a_connection(
    raw_provider: RawProviders,
) -> None:
    provider = raw_provider(HONEST)
    transport = Http1Transport()
    for pool in ("a", "b", "a", "b", None, None):
        await get(transport, provider, pool=pool)
    assert sorted(len(record.requests) for record in provider.connections) == [2, 2, 2]
    await transport.close()
