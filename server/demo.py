"""`business-api demo`: a working server from a fresh clone, with nothing to configure.

One SQLite file, one business (@tremble, "Tremble Studios") connected to a Wix site that
an emulator serves from this same process under `/_emulators/wix`, reached over real HTTP
exactly as the real Wix API would be.
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
import uvicorn
from starlette.routing import Mount

from server.app import create_app, uvicorn_options
from server.http.graphiql import EXAMPLE_QUERY
from server.providers.wix.dataset import generate_dataset
from server.providers.wix.emulator import create_emulator
from server.services import REQUIRED_SCOPE, Services
from server.settings import Settings
from server.store.database import migrate

HANDLE = "tremble"
NAME = "Tremble Studios"
PARTICIPANTS = 300
SEED = 7


@dataclass(frozen=True)
class DemoSetup:
    api_key: str
    wix_key: str
    wix_site: str


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


async def prepare(settings: Settings, emulator_url: str) -> DemoSetup:
    """Create or reuse the business and its Wix connection; mint a fresh key."""
    services = Services.build(settings)
    try:
        await migrate(services.engine)
        store = services.store
        business = await store.get_business(HANDLE) or await store.create_business(HANDLE, NAME)
        configs = [
            c for c in await store.connection_configs(business.id) if c.connection.kind == "wix"
        ]
        if configs and configs[0].connection.base_url != emulator_url:
            # Another port this time: same connection (so the same GIDs), new address.
            await store.move_connection(configs[0].connection.public_id, emulator_url)
        if not configs:
            await store.add_connection(
                business.id,
                kind="wix",
                base_url=emulator_url,
                account_id=f"site-{secrets.token_hex(4)}",
                credential=secrets.token_urlsafe(24),
                mode="live",
            )
            configs = [
                c for c in await store.connection_configs(business.id) if c.connection.kind == "wix"
            ]
        scopes = list(services.policy.scopes)
        assert REQUIRED_SCOPE in scopes
        _, api_key = await store.create_api_key(business.id, name="demo", scopes=scopes)
        wix = configs[0]
        return DemoSetup(api_key, wix.credential, wix.connection.account_id)
    finally:
        await services.close()


def run_demo(*, host: str, port: int, database: Path) -> None:
    settings = demo_settings(database)
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{local}:{port}"
    setup = asyncio.run(prepare(settings, f"{base}/_emulators/wix"))
    emulator = create_emulator(
        generate_dataset(seed=SEED, contacts=PARTICIPANTS),
        api_key=setup.wix_key,
        site_id=setup.wix_site,
    )
    app = create_app(settings, extra_routes=[Mount("/_emulators/wix", app=emulator.app)])
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
