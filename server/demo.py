"""`business-api demo`: a working server from a fresh clone, with nothing to configure.

One SQLite file, one business (@tremble, "Tremble Studios") connected to every provider
the registry lists, each served by its emulator from this same process under
`/_emulators/<provider>`, reached over real HTTP exactly as the real API would be. The
indexed providers are synced once before the key is printed, so the first query already
shows everyone.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from server.app import create_app, uvicorn_options
from server.http.graphiql import EXAMPLE_QUERY
from server.providers.spec import ProviderSpec
from server.services import REQUIRED_SCOPE, Services
from server.settings import Settings
from server.store.database import migrate

HANDLE = "tremble"
NAME = "Tremble Studios"
PARTICIPANTS = 300  # per provider
SEED = 7


@dataclass(frozen=True)
class EmulatedConnection:
    spec: ProviderSpec
    base_url: str
    account_id: str
    credential: str


@dataclass(frozen=True)
class DemoSetup:
    api_key: str
    connections: tuple[EmulatedConnection, ...]


def _demo_secret(database: Path) -> str:
    """The demo keeps its secret beside its database, so a re-run can decrypt what it stored."""
    path = database.with_suffix(".secret")
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def demo_settings(database: Path) -> Settings:
    environ = dict(os.environ)
    environ.setdefault("BUSINESS_API_DATABASE_URL", f"sqlite+aiosqlite:///{database.resolve()}")
    environ.setdefault("BUSINESS_API_SECRET_KEY", _demo_secret(database))
    return Settings.from_environ(environ)


def emulator_url(base: str, spec: ProviderSpec) -> str:
    return f"{base}/_emulators/{spec.name}"


async def prepare(settings: Settings, base: str) -> DemoSetup:
    """Create or reuse the business and one connection per provider; mint a fresh key."""
    services = Services.build(settings)
    try:
        await migrate(services.engine)
        store = services.store
        business = await store.get_business(HANDLE) or await store.create_business(HANDLE, NAME)
        configs = {c.connection.provider: c for c in await store.connection_configs(business.id)}
        connections = []
        for spec in services.providers:
            url = emulator_url(base, spec)
            config = configs.get(spec.name)
            if config is None or config.credential is None:
                credential = secrets.token_urlsafe(24)
                await store.add_connection(
                    business.id,
                    provider=spec.name,
                    base_url=url,
                    account_id=spec.emulated.account_id,
                    credential=credential,
                    mode=spec.mode,
                )
                connections.append(
                    EmulatedConnection(spec, url, spec.emulated.account_id, credential)
                )
                continue
            if config.connection.base_url != url:
                # Another port this time: the same connection (so the same GIDs), moved.
                await store.update_connection(config.connection.public_id, base_url=url)
            connections.append(
                EmulatedConnection(spec, url, config.connection.account_id, config.credential)
            )
        scopes = list(services.policy.scopes)
        assert REQUIRED_SCOPE in scopes
        _, api_key = await store.create_api_key(business.id, name="demo", scopes=scopes)
        return DemoSetup(api_key, tuple(connections))
    finally:
        await services.close()


async def first_sync(settings: Settings, emulators: Starlette) -> None:
    """Index the indexed providers before the first query (their emulators answer in
    process, through the same HTTP requests)."""
    services = Services.build(settings, upstream=httpx.ASGITransport(app=emulators))
    try:
        for outcome in await services.sync.sync_all(
            progress=lambda progress: click.echo(f"Indexing {progress.line()}", err=True)
        ):
            if outcome.error:
                click.echo(f"{outcome.provider}: {outcome.error}", err=True)
    finally:
        await services.close()


def run_demo(*, host: str, port: int, database: Path) -> None:
    settings = demo_settings(database)
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{local}:{port}"
    setup = asyncio.run(prepare(settings, base))
    mounts = []
    for connection in setup.connections:
        emulated = connection.spec.emulated
        emulator = emulated.emulator(
            emulated.dataset(SEED, PARTICIPANTS), connection.account_id, connection.credential
        )
        mounts.append(Mount(f"/_emulators/{connection.spec.name}", app=emulator.app))
    asyncio.run(first_sync(settings, Starlette(routes=mounts)))
    app = create_app(settings, extra_routes=mounts, background_sync=True)
    url = f"{base}/@{HANDLE}/api/graphql"
    body = json.dumps({"query": " ".join(EXAMPLE_QUERY.split())})
    click.echo(f"API key: {setup.api_key}")
    click.echo(f"GraphQL endpoint: {url}")
    click.echo("Try it:")
    click.echo(
        f"curl -s {url} -H 'Content-Type: application/json' "
        f"-H 'Authorization: Bearer {setup.api_key}' -d {shlex.quote(body)}"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", **uvicorn_options(settings))
