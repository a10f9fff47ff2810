"""A running server over two businesses, each connected to emulated providers.

Which providers each business uses comes from the `connected` fixture (by default one
Wix site each); every emulator and data set comes from the provider's spec in the
registry. The emulators listen on the session's socket (`tests/upstream.py`) and the
adapters reach them through the production transport, over TCP: the same requests,
headers and bodies as to the real providers. The test client reaches the server under
test in process (httpx's ASGI transport): that is the client's side, not provider
traffic.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.providers.registry import PROVIDERS
from server.providers.spec import ProviderSpec
from server.services import Graph, Services
from server.settings import Settings
from tests.upstream import SocketUpstream

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
    emulators: dict[tuple[str, str], Any]  # (handle, provider) -> its emulator
    keys: dict[str, str] = field(default_factory=dict)
    business_ids: dict[str, int] = field(default_factory=dict)
    connections: dict[str, str] = field(default_factory=dict)  # handle -> first connection
    connection_ids: dict[tuple[str, str], str] = field(default_factory=dict)

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

    def emulator(self, provider: str = "wix", handle: str = "tremble") -> Any:
        return self.emulators[(handle, provider)]

    def upstream_calls(self, handle: str = "tremble", provider: str = "wix") -> dict[str, int]:
        return dict(self.emulator(provider, handle).requests)

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
def connected() -> dict[str, tuple[str, ...]]:
    """The providers each business is connected to, in order; a test module overrides it.
    `provider:mode` (`sessionboard:live`) connects in that mode, not the provider's default."""
    return {"tremble": ("wix",), "acme": ("wix",)}


@pytest.fixture
def providers() -> tuple[ProviderSpec, ...]:
    """The registry the server runs with; a test module overrides it to add a provider."""
    return PROVIDERS


BUSINESSES = {
    "tremble": ("Tremble Studios", 1, TREMBLE_CONTACTS),
    "acme": ("Acme Climbing", 2, ACME_CONTACTS),
}


def labelled(names: tuple[str, ...]) -> list[tuple[str, str]]:
    """(label, provider): a provider's second connection is labelled `wix.2`, and so on."""
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append((name if seen[name] == 1 else f"{name}.{seen[name]}", name))
    return labels


def credential_of(provider: str, handle: str) -> str:
    return f"{provider}-key-{handle[0]}"


@dataclass(frozen=True)
class Populated:
    """A store once a world's businesses, connections and keys are in it: a copy of its
    file, and the ids and keys it holds (a later world of the same layout copies it)."""

    path: Path
    base_urls: dict[tuple[str, str], str]
    business_ids: dict[str, int]
    connection_ids: dict[tuple[str, str], str]
    connections: dict[str, str]
    keys: dict[str, str]


Layout = tuple[tuple[str, str, str, str, str], ...]  # handle, label, provider, account, mode


@dataclass
class PopulatedStores:
    """The populated stores of the session, one per layout of businesses and connections."""

    folder: Path
    by_layout: dict[Layout, Populated] = field(default_factory=dict)

    def file_for(self, layout: Layout) -> Path:
        return self.folder / f"store-{len(self.by_layout)}.db"


def _copy_live(source: Path, target: Path) -> None:
    """A copy of an SQLite store in use: its newest writes may be in the write-ahead log
    still, which a file copy would leave behind."""
    with (
        contextlib.closing(sqlite3.connect(source)) as live,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        live.backup(copy)


@pytest.fixture(scope="session")
def populated_stores(tmp_path_factory: pytest.TempPathFactory) -> PopulatedStores:
    return PopulatedStores(tmp_path_factory.mktemp("populated"))


async def _populate(
    store: Any, layout: Layout, base_urls: dict[tuple[str, str], str]
) -> dict[str, Any]:
    """Each business of the layout, its connections in order and its keys."""
    made: dict[str, Any] = {"business_ids": {}, "connection_ids": {}, "connections": {}}
    keys: dict[str, str] = {}
    for handle in dict.fromkeys(handle for handle, *_ in layout):
        business = await store.create_business(handle, BUSINESSES[handle][0])
        made["business_ids"][handle] = business.id
        for _, label, name, account_id, mode in (c for c in layout if c[0] == handle):
            connection = await store.add_connection(
                business.id,
                provider=name,
                base_url=base_urls[(handle, label)],
                account_id=account_id,
                credential=credential_of(name, handle),
                mode=mode,
            )
            made["connection_ids"][(handle, label)] = connection.public_id
            made["connections"].setdefault(handle, connection.public_id)
        _, keys[handle] = await store.create_api_key(business.id, name="all", scopes=ALL_SCOPES)
    _, keys["tremble-no-email"] = await store.create_api_key(
        made["business_ids"]["tremble"],
        name="no email",
        scopes=[s for s in ALL_SCOPES if s != "participants.email:read"],
    )
    made["keys"] = keys
    return made


@pytest.fixture
async def world(
    tmp_path: Path,
    migrated_store: Path,
    upstream: SocketUpstream,
    graph_of: Callable[[Path], Graph],
    datasets: Callable[[Any, int, int], Any],
    populated_stores: PopulatedStores,
    policy_path: Path | None,
    setting_overrides: dict[str, Any],
    connected: dict[str, tuple[str, ...]],
    providers: tuple[ProviderSpec, ...],
) -> AsyncIterator[World]:
    specs = {spec.name: spec for spec in providers}
    emulators: dict[tuple[str, str], Any] = {}
    base_urls: dict[tuple[str, str], str] = {}
    layout: Layout = ()
    for handle, names in connected.items():
        _, seed, size = BUSINESSES[handle]
        chosen = [entry.partition(":")[2] for entry in names]
        plain = tuple(entry.partition(":")[0] for entry in names)
        for (label, name), mode in zip(labelled(plain), chosen, strict=True):
            mode = mode or specs[name].mode
            emulated = specs[name].emulated
            repeat = int(label.rpartition(".")[2]) if "." in label else 1
            emulator = emulated.emulator(
                datasets(specs[name], seed + 10 * (repeat - 1), size),
                emulated.account_id,
                credential_of(name, handle),
            )
            emulators[(handle, label)] = emulator
            base_urls[(handle, label)] = upstream.mount(emulator.app, f"{handle}-{label}")
            layout += ((handle, label, name, emulated.account_id, mode),)
    populated = populated_stores.by_layout.get(layout)
    if populated is not None:
        shutil.copy2(populated.path, migrated_store)
    overrides = {"policy_path": policy_path} if policy_path else {}
    overrides.update(setting_overrides)
    settings = settings_for(tmp_path, **overrides)
    app = create_app(settings, graph=graph_of(settings.policy_path), providers=providers)
    services: Services = app.state.services
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    built = World(client=client, services=services, emulators=emulators)
    if populated is None:
        made = await _populate(services.store, layout, base_urls)
        saved = populated_stores.file_for(layout)
        _copy_live(migrated_store, saved)
        populated = Populated(saved, dict(base_urls), **made)
        populated_stores.by_layout[layout] = populated
    for place, base_url in base_urls.items():
        if populated.base_urls[place] != base_url:  # mounted elsewhere this time
            await services.store.update_connection(
                populated.connection_ids[place], base_url=base_url
            )
    built.business_ids = dict(populated.business_ids)
    built.connection_ids = dict(populated.connection_ids)
    built.connections = dict(populated.connections)
    built.keys = dict(populated.keys)
    try:
        yield built
    finally:
        await client.aclose()
        await services.close()
        for base_url in base_urls.values():
            upstream.unmount(base_url)
    upstream.assert_no_failures()


def answered(response: httpx.Response) -> Any:
    """The response's JSON with each error's `requestId` checked against the response's
    `X-Request-Id` and taken out, so that what remains can be compared whole."""
    body = response.json()
    request_id = response.headers["x-request-id"]
    for error in body.get("errors", []):
        assert error["extensions"].pop("requestId") == request_id
    return body
