"""A running server over two businesses, each connected to its own emulated Wix site.

The adapters reach the emulators over HTTP through httpx's ASGI transport: the same
requests, headers and bodies as to the real Wix, without sockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from server.app import create_app
from server.providers.wix.dataset import generate_dataset
from server.providers.wix.emulator import WixEmulator, create_emulator
from server.services import Services
from server.settings import Settings
from server.store.database import migrate

ALL_SCOPES = [
    "business:read",
    "participants:read",
    "participants.email:read",
    "registrations:read",
    "purchases:read",
]
TREMBLE_CONTACTS = 120
ACME_CONTACTS = 30


@dataclass
class World:
    client: httpx.AsyncClient
    services: Services
    emulators: dict[str, WixEmulator]
    keys: dict[str, str] = field(default_factory=dict)
    business_ids: dict[str, int] = field(default_factory=dict)
    connections: dict[str, str] = field(default_factory=dict)  # handle -> connection id

    async def post(
        self,
        body: Any,
        *,
        key: str | None = "tremble",
        handle: str = "tremble",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if key is not None:
            sent.setdefault("Authorization", f"Bearer {self.keys.get(key, key)}")
        return await self.client.post(f"/@{handle}/api/graphql", json=body, headers=sent)

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.post(body, **kwargs)

    def upstream_calls(self, site: str = "tremble") -> dict[str, int]:
        return dict(self.emulators[site].requests)

    def reset_counts(self) -> None:
        for emulator in self.emulators.values():
            emulator.reset_counts()


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings.from_environ(
        {
            "BUSINESS_API_SECRET_KEY": "test-secret-key-0123456789abcdef",
            "BUSINESS_API_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'store.db'}",
            "BUSINESS_API_ADMIN_TOKEN": "admin-token-for-tests-0123456789abcdef",
        },
        **overrides,
    )


@pytest.fixture
def policy_path() -> Path | None:
    """The committed policy; a test module overrides this fixture to serve another."""
    return None


@pytest.fixture
def setting_overrides() -> dict[str, Any]:
    """Settings fields to replace; a test module overrides this fixture."""
    return {}


@pytest.fixture
async def world(
    tmp_path: Path, policy_path: Path | None, setting_overrides: dict[str, Any]
) -> AsyncIterator[World]:
    emulators = {
        "tremble": create_emulator(
            generate_dataset(seed=1, contacts=TREMBLE_CONTACTS),
            api_key="wix-key-t",
            site_id="site-t",
        ),
        "acme": create_emulator(
            generate_dataset(seed=2, contacts=ACME_CONTACTS), api_key="wix-key-a", site_id="site-a"
        ),
    }
    upstream = Starlette(routes=[Mount(f"/{name}", app=e.app) for name, e in emulators.items()])
    overrides = {"policy_path": policy_path} if policy_path else {}
    overrides.update(setting_overrides)
    app = create_app(
        settings_for(tmp_path, **overrides), upstream=httpx.ASGITransport(app=upstream)
    )
    services: Services = app.state.services
    await migrate(services.engine)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    built = World(client=client, services=services, emulators=emulators)
    store = services.store
    for handle, name in (("tremble", "Tremble Studios"), ("acme", "Acme Climbing")):
        business = await store.create_business(handle, name)
        built.business_ids[handle] = business.id
        connection = await store.add_connection(
            business.id,
            provider="wix",
            base_url=f"http://wix.test/{handle}",
            account_id=f"site-{handle[0]}",
            credential=f"wix-key-{handle[0]}",
            mode="live",
        )
        built.connections[handle] = connection.public_id
        _, built.keys[handle] = await store.create_api_key(
            business.id, name="all", scopes=ALL_SCOPES
        )
    _, built.keys["tremble-no-email"] = await store.create_api_key(
        built.business_ids["tremble"],
        name="no email",
        scopes=[s for s in ALL_SCOPES if s != "participants.email:read"],
    )
    try:
        yield built
    finally:
        await client.aclose()
        await services.close()
