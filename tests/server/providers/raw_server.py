"""The server as production runs it, in front of raw providers (`tests/raw_provider.py`).

`open_server({handle: base_url})` builds the app with `create_app` (as
`tests/server/providers/test_hostile_provider.py` does), a business per handle connected
to Wix at that base URL (a raw provider's, usually) and a key of every scope for each; the
test queries it in process through httpx's ASGI transport, and its provider calls go over
the production transport, over TCP. Wix answers are built here too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from server.app import create_app
from server.services import Graph, Services
from tests.server.conftest import ALL_SCOPES, settings_for

NAMES = "{ activeBusiness { name participants(first: 5) { nodes { id name } } } }"
BUSINESSES = {"tremble": "Tremble Studios", "acme": "Acme Climbing"}
MAX_UPSTREAM_BYTES = 1024 * 1024
UPSTREAM_TIMEOUT = 2.0


def contacts_body(tenant: str, count: int = 3) -> bytes:
    people = [
        {
            "id": f"{tenant}-contact-{i}",
            "createdDate": f"2024-01-0{i + 1}T10:00:00.000Z",
            "info": {"name": {"first": tenant.title(), "last": f"Person{i}"}},
            "primaryInfo": {"email": f"person{i}@{tenant}.example"},
        }
        for i in range(count)
    ]
    return json.dumps({"contacts": people, "pagingMetadata": {"count": count}}).encode()


def names_of(tenant: str, count: int = 3) -> list[str]:
    return [f"{tenant.title()} Person{i}" for i in range(count)]


JSON = b"Content-Type: application/json\r\n"
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\n" + JSON + b"Transfer-Encoding: chunked\r\n\r\n"


def answer(body: bytes, *headers: bytes, status: bytes = b"200 OK") -> bytes:
    head = b"HTTP/1.1 " + status + b"\r\n" + JSON + b"".join(headers)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


@dataclass
class Server:
    client: httpx.AsyncClient
    services: Services
    keys: dict[str, str] = field(default_factory=dict)

    async def query(self, document: str = NAMES, handle: str = "tremble") -> httpx.Response:
        return await self.client.post(
            f"/@{handle}/api/graphql",
            json={"query": document},
            headers={"Authorization": f"Bearer {self.keys[handle]}"},
        )


class OpenServer(Protocol):
    def __call__(self, base_urls: dict[str, str], **settings: Any) -> Awaitable[Server]: ...


@pytest.fixture
async def open_server(
    tmp_path: Path, migrated_store: Path, graph_of: Callable[[Path], Graph]
) -> AsyncIterator[OpenServer]:
    """`await open_server({handle: wix_base_url}, **settings)`: the server (a 1 MiB body
    cap and a 2 s deadline per provider call unless `settings` say otherwise), a business
    per handle connected to Wix at that base URL, and a key of every scope for each."""
    opened: list[Server] = []

    async def open_(base_urls: dict[str, str], **overrides: Any) -> Server:
        chosen: dict[str, Any] = {
            "max_upstream_bytes": MAX_UPSTREAM_BYTES,
            "upstream_timeout_seconds": UPSTREAM_TIMEOUT,
            "execution_timeout_seconds": 2 * UPSTREAM_TIMEOUT,
        }
        settings = settings_for(tmp_path, **{**chosen, **overrides})
        app = create_app(settings, graph=graph_of(settings.policy_path))
        services: Services = app.state.services
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        server = Server(client, services)
        opened.append(server)
        for handle, base_url in base_urls.items():
            business = await services.store.create_business(handle, BUSINESSES[handle])
            await services.store.add_connection(
                business.id,
                provider="wix",
                base_url=base_url,
                account_id=f"site-{handle[0]}",
                credential=f"wix-key-{handle[0]}",
                mode="live",
            )
            _, server.keys[handle] = await services.store.create_api_key(
                business.id, name="all", scopes=ALL_SCOPES
            )
        return server

    try:
        yield open_
    finally:
        for server in opened:
            await server.client.aclose()
            await server.services.close()


def participant_names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return [node["name"] for node in body["data"]["activeBusiness"]["participants"]["nodes"]]
