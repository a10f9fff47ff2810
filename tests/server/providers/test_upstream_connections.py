"""At most `BUSINESS_API_UPSTREAM_CONNECTIONS` calls in flight per provider connection.

A slow provider (a raw provider, `tests/raw_provider.py`, that thinks before every answer)
is called far more often at once than the setting allows: it accepts no more connections
than the setting, every call is answered, and a call waiting for its turn waits within its
own deadline. The limit is per provider connection, so a business whose provider has
stalled does not hold up another's calls to the same host. Counted at the provider: the
connections it accepted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest

from server.providers.errors import ProviderTimedOut
from server.providers.http import ProviderHttp, UpstreamLimits
from server.providers.http1 import Http1Transport
from server.settings import Settings
from tests.raw_provider import (
    Hang,
    RawProvider,
    RawProviders,
    ReadRequest,
    Repeat,
    Send,
    Sleep,
    raw_provider,
)
from tests.server.providers.raw_server import (
    OpenServer,
    answer,
    contacts_body,
    names_of,
    open_server,
    participant_names,
)

__all__ = ["open_server", "raw_provider"]

BODY = b'{"ok": true}'
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(BODY),
    BODY,
)
SLOW = (Repeat((ReadRequest(), Sleep(0.02), Send(ANSWER))),)
CALLS = 200


def settings(tmp_path: Path, connections: int, timeout: float = 10.0) -> Settings:
    return Settings.from_environ(
        {
            "BUSINESS_API_SECRET_KEY": "test-secret-key-0123456789abcdef",
            "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
            "BUSINESS_API_UPSTREAM_CONNECTIONS": str(connections),
            "BUSINESS_API_UPSTREAM_TIMEOUT": str(timeout),
        }
    )


def client(
    transport: Http1Transport, provider: RawProvider, settings: Settings, connection: str
) -> ProviderHttp:
    """The client of one provider connection, as `Runtimes.http_for` builds it."""
    return ProviderHttp(
        transport,
        provider="wix",
        base_url=provider.url,
        headers={"Authorization": "key"},
        limits=UpstreamLimits.from_settings(settings),
        connection=connection,
    )


async def test_many_concurrent_calls_to_a_slow_provider_open_at_most_the_setting_s_connections(
    raw_provider: RawProviders, tmp_path: Path
) -> None:
    provider = raw_provider(SLOW)
    transport = Http1Transport()
    http = client(transport, provider, settings(tmp_path, connections=8), "conn_slow")
    answers = await asyncio.gather(*(http.get("/x", dict) for _ in range(CALLS)))
    assert answers == [{"ok": True}] * CALLS
    assert 1 <= len(provider.connections) <= 8
    assert len(provider.requests) == CALLS
    await transport.close()


async def test_a_call_waiting_for_its_turn_is_not_sent_and_ends_at_its_own_deadline(
    raw_provider: RawProviders, tmp_path: Path
) -> None:
    """One connection allowed, held by a call the provider never answers: the next call
    sends nothing while it waits, and its wait ends with its deadline (the wait is inside
    the call's timeout, not before it)."""
    timeout = 2.0
    provider = raw_provider((ReadRequest(), Hang()))
    transport = Http1Transport()
    limits = UpstreamLimits.from_settings(settings(tmp_path, connections=1, timeout=timeout))
    http = ProviderHttp(
        transport,
        provider="wix",
        base_url=provider.url,
        headers={},
        limits=dataclasses.replace(limits, attempts=1),
        connection="conn_stalled",
    )
    first = asyncio.create_task(http.get("/first", dict))
    while not provider.requests:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    second = asyncio.create_task(http.get("/second", dict))
    await asyncio.sleep(timeout / 4)
    assert not second.done()
    assert len(provider.connections) == 1  # the waiting call opened nothing
    with pytest.raises(ProviderTimedOut):
        await second
    assert time.monotonic() - started < timeout + 1.0
    with pytest.raises(ProviderTimedOut):
        await first
    assert [request.split(b" ")[1] for request in provider.requests][0] == b"/first"
    await transport.close()


async def test_a_business_whose_provider_stalled_does_not_hold_up_another_on_the_same_host(
    raw_provider: RawProviders, tmp_path: Path
) -> None:
    """Tremble's calls take every connection it may have, and hang; Acme's call, to the
    same host, is answered meanwhile."""
    connections = 4
    provider = raw_provider(*([(ReadRequest(), Hang())] * connections), SLOW)
    transport = Http1Transport()
    limits = settings(tmp_path, connections=connections, timeout=5.0)
    tremble = client(transport, provider, limits, "conn_tremble")
    acme = client(transport, provider, limits, "conn_acme")
    stalled = [asyncio.create_task(tremble.get("/stalled", dict)) for _ in range(connections + 2)]
    while len(provider.requests) < connections:
        await asyncio.sleep(0.01)
    assert await acme.get("/answered", dict) == {"ok": True}
    assert len(provider.connections) == connections + 1
    for task in stalled:
        task.cancel()
    await asyncio.gather(*stalled, return_exceptions=True)
    await transport.close()


async def test_concurrent_graphql_requests_of_one_business_share_its_connection_limit(
    raw_provider: RawProviders, open_server: OpenServer
) -> None:
    """Through the server as production runs it, with the default limit (16)."""
    contacts = answer(contacts_body("tremble"))
    provider = raw_provider((Repeat((ReadRequest(), Sleep(0.02), Send(contacts))),))
    server = await open_server(
        {"tremble": f"{provider.url}/tremble"},
        key_rate_limit=10 * CALLS,
        business_rate_limit=10 * CALLS,
        upstream_timeout_seconds=10.0,
        execution_timeout_seconds=20.0,
    )
    limit = server.services.settings.upstream_connections
    assert limit == 16  # the default
    responses = await asyncio.gather(*(server.query() for _ in range(CALLS)))
    assert {response.status_code for response in responses} == {200}
    assert all(participant_names(response) == names_of("tremble") for response in responses)
    assert 1 <= len(provider.connections) <= limit
    assert len(provider.requests) == CALLS
