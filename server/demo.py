"""`business-api demo`: a working server from a fresh clone, with nothing to configure.

One SQLite file, one business (@tremble, "Tremble Studios") connected to every provider
the registry lists, each served by its emulator from this same process under
`/_emulators/<provider>`, reached over real HTTP exactly as the real API would be. The
indexed providers are synced once before the key is printed, so the first query already
shows everyone.

The store's settings and the demo's key are kept in `business-api-demo.env` in the current
folder (see `server.demo_env`): a second run reuses the store and gives out the same key,
and the `business-api` command run in that folder manages the demo's store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import shlex
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
import uvicorn
from starlette.routing import Mount

from schema.example import EXAMPLE_QUERY
from server.app import create_app, uvicorn_options
from server.changes.events import TOPICS
from server.demo_env import DEMO_ENV_FILE, DEMO_KEY, read_env_file, write_env_file
from server.providers.emulated.activity import Activity
from server.providers.spec import ProviderSpec
from server.services import Services
from server.serving import configure_logging, settle_heap
from server.settings import Settings
from server.store.database import migrate
from server.store.repository import Store
from server.webhooks.receiver import Verified, line, receiver_app

HANDLE = "tremble"
NAME = "Tremble Studios"
KEY_NAME = "demo"
PARTICIPANTS = 300  # per provider
SEED = 7
ACTIVITY_SECONDS = 8.0  # about this long between two simulated changes
# The demo watches and syncs often, so that a change shows within the minute; an
# operator's settings in the environment still win.
DEMO_INTERVALS = {
    "BUSINESS_API_SYNC_INTERVAL": "20",
    "BUSINESS_API_WATCH_INTERVAL": "10",
    # Its webhooks go to its own receiver, on this machine.
    "BUSINESS_API_WEBHOOK_ALLOW_PRIVATE": "true",
}
RECEIVER = "/_webhooks"

log = logging.getLogger(__name__)

DATABASE_URL = "BUSINESS_API_DATABASE_URL"
SECRET_KEY = "BUSINESS_API_SECRET_KEY"


@dataclass(frozen=True)
class EmulatedConnection:
    spec: ProviderSpec
    base_url: str
    account_id: str
    credential: str


@dataclass(frozen=True)
class DemoSetup:
    api_key: str
    key_reused: bool
    keys_revoked: int  # the demo's earlier keys, revoked when a new one was minted
    connections: tuple[EmulatedConnection, ...]
    webhook_secrets: tuple[str, ...]  # what its receiver verifies deliveries with


def _same_store(saved: Mapping[str, str], database_url: str) -> bool:
    return saved.get(DATABASE_URL) == database_url


def _demo_secret(database: Path, database_url: str, saved: Mapping[str, str]) -> str:
    """The secret the store was first written with, so a re-run can decrypt what it
    stored: from the env file when it describes this store, else from the `<db>.secret`
    file earlier versions kept beside the database, else a new one."""
    if _same_store(saved, database_url) and saved.get(SECRET_KEY):
        return saved[SECRET_KEY]
    beside = database.with_suffix(".secret")
    if beside.is_file():
        return beside.read_text().strip()
    return secrets.token_urlsafe(32)


def demo_settings(database: Path, saved: Mapping[str, str]) -> Settings:
    """The environment's settings, the demo's store and secret filling what it leaves unset."""
    environ = dict(os.environ)
    environ.setdefault(DATABASE_URL, f"sqlite+aiosqlite:///{database.resolve()}")
    environ.setdefault(SECRET_KEY, _demo_secret(database, environ[DATABASE_URL], saved))
    for name, value in DEMO_INTERVALS.items():
        environ.setdefault(name, value)
    return Settings.from_environ(environ)


def _save(env_file: Path, settings: Settings, api_key: str | None) -> None:
    values = {DATABASE_URL: settings.database_url, SECRET_KEY: str(settings.secret_key)}
    if api_key:
        values[DEMO_KEY] = api_key
    try:
        write_env_file(env_file, values)
    except OSError as error:
        raise click.ClickException(
            f"Cannot write {env_file} ({error.strerror}): run the demo in a folder you can "
            "write to."
        ) from None


def emulator_url(base: str, spec: ProviderSpec) -> str:
    return f"{base}/_emulators/{spec.name}"


async def _demo_key(
    store: Store, business_id: int, scopes: list[str], saved_key: str | None
) -> tuple[str, bool, int]:
    """The saved key while the store still accepts it for this business with every scope
    (True: reused); otherwise a new key, the demo's earlier ones revoked (how many), so that
    re-runs never leave more than one demo key working."""
    now = datetime.now(UTC)
    if saved_key:
        accepted = await store.authenticate(saved_key, now=now)
        if accepted is not None:
            business, key = accepted
            if business.id == business_id and set(scopes) <= set(key.scopes):
                return saved_key, True, 0
    minted, api_key = await store.create_api_key(business_id, name=KEY_NAME, scopes=scopes)
    revoked = 0
    for key in await store.list_api_keys(business_id):
        if key.name == KEY_NAME and key.key_id != minted.key_id and key.revoked_at is None:
            await store.revoke_api_key(key.key_id, now=now)
            revoked += 1
    return api_key, False, revoked


async def _demo_subscription(services: Services, api_key: str, url: str) -> tuple[str, ...]:
    """Every topic of @tremble delivered to the demo's own receiver, bound to the demo's
    key: the subscription of an earlier run moved to this run's port, or a new one when
    the key is new (the old key's was disabled with it)."""
    webhooks = services.webhooks.subscriptions
    key_id = api_key.split("_")[1]
    for subscription in await webhooks.listed(HANDLE):
        if subscription.key_id == key_id and subscription.url.endswith(f"{RECEIVER}/"):
            if subscription.url != url:
                await webhooks.update(subscription.public_id, url=url)
            return tuple(await webhooks.signing_secrets(subscription.public_id))
    subscription, secret = await webhooks.create(HANDLE, url, list(TOPICS), key_id)
    return (secret,)


async def prepare(settings: Settings, base: str, saved_key: str | None = None) -> DemoSetup:
    """Create or reuse the business and one connection per provider, and its key."""
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
            if config.connection.base_url != url or config.connection.mode != spec.mode:
                # Another port this time, or a store from before the provider's default mode
                # changed: the same connection (so the same GIDs), moved or switched.
                await store.update_connection(
                    config.connection.public_id, base_url=url, mode=spec.mode
                )
            connections.append(
                EmulatedConnection(spec, url, config.connection.account_id, config.credential)
            )
        scopes = list(services.policy.scopes)  # every scope: the demo's key reads it all
        api_key, reused, revoked = await _demo_key(store, business.id, scopes, saved_key)
        secrets_ = await _demo_subscription(services, api_key, f"{base}{RECEIVER}/")
        return DemoSetup(api_key, reused, revoked, tuple(connections), secrets_)
    finally:
        await services.close()


async def first_sync(services: Services) -> None:
    """Index the indexed providers before the first query. Their emulators answer on the
    demo's own port, so the crawl reaches them over HTTP as it would the real providers."""
    for outcome in await services.sync.sync_all(
        progress=lambda progress: click.echo(f"Indexing {progress.line()}", err=True)
    ):
        if outcome.error or outcome.stopped:
            click.echo(f"{outcome.provider}: {outcome.error or outcome.stopped}", err=True)


class DemoServer(uvicorn.Server):
    """uvicorn, with the demo's first sync as soon as the port accepts connections (the
    emulators it crawls answer there), then where to go, then a sync every interval, and
    (`BUSINESS_API_DEMO_ACTIVITY`) the emulated providers' data changing now and then, so
    that change events appear."""

    def __init__(
        self,
        config: uvicorn.Config,
        services: Services,
        announce: Callable[[], None],
        activity: Activity | None = None,
    ) -> None:
        super().__init__(config)
        self._services = services
        self._announce = announce
        self._activity = activity
        self._background: list[asyncio.Task[None]] = []

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit:
            return
        await first_sync(self._services)
        self._announce()
        settings = self._services.settings
        every = settings.sync_interval_seconds
        # The first sync just ran every connection: the next passes come after the
        # shorter interval (a watch's, usually), each on its own schedule from then.
        first = min(every, settings.watch_interval_seconds)
        self._background.append(
            asyncio.create_task(self._services.sync.run_every(every, first_after=first))
        )
        self._background.append(asyncio.create_task(self._services.webhooks.deliverer.run()))
        if self._activity is not None:
            self._background.append(
                asyncio.create_task(self._activity.run(ACTIVITY_SECONDS, report=_changed))
            )

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await super().shutdown(sockets=sockets)


def _changed(line: str) -> None:
    log.info("demo activity: %s", line)


def _delivered(verified: Verified) -> None:
    log.info("demo webhook received: %s", line(verified))


def _say(message: str = "") -> None:
    click.echo(message, err=True)


def _announce(setup: DemoSetup, base: str, env_file: Path) -> None:
    """Where to go and what to try: the key alone on stdout (scripts read that line), the
    rest on stderr."""
    url = f"{base}/@{HANDLE}/api/graphql"
    body = json.dumps({"query": " ".join(EXAMPLE_QUERY.split())})
    click.echo(f"API key: {setup.api_key}")
    if setup.key_reused:
        _say("(the same key as the last run)")
    elif setup.keys_revoked:
        plural = "s" if setup.keys_revoked > 1 else ""
        _say(f"(a new key with every scope; {setup.keys_revoked} earlier demo key{plural} revoked)")
    else:
        _say("(a new key with every scope)")
    _say(f"Serving at {base}")
    _say(f"  Landing page:     {base}/")
    _say(f"  Explorer:         {url}  (in a browser: paste the key after `Bearer `)")
    _say(f"  Reference:        {base}/@{HANDLE}/api/reference")
    _say(f"GraphQL endpoint: {url}")
    _say("Try it:")
    _say(
        f"curl -s {url} -H 'Content-Type: application/json' "
        f"-H 'Authorization: Bearer {setup.api_key}' -d {shlex.quote(body)}"
    )
    _say()
    _say(f"Emulated providers (@{HANDLE} is connected to each):")
    for connection in setup.connections:
        _say(
            f"  {connection.spec.name:<13} {connection.base_url}  "
            f"--account-id {shlex.quote(connection.account_id)}  "
            f"--credential {shlex.quote(connection.credential)}"
        )
    example = setup.connections[0]
    _say("Connect another business to one of them:")
    _say("  business-api businesses create --handle acme --name 'Acme Studios'")
    _say(
        f"  business-api connections add --business acme --provider {example.spec.name} "
        f"--base-url {example.base_url} --account-id {shlex.quote(example.account_id)} "
        f"--credential {shlex.quote(example.credential)}"
    )
    _say()
    _say(
        f"business-api run in this folder manages the demo's store: its settings are in "
        f"{env_file.resolve()}"
    )
    _say("  business-api keys list")
    _say("  business-api connections list")
    _say(f"  business-api changes list --business {HANDLE}")
    _say("  business-api webhooks list")
    _say(
        f"Every change is delivered as a signed webhook to the demo's own receiver; the "
        f"latest verified deliveries: {base}{RECEIVER}/"
    )
    _say()


def run_demo(*, host: str, port: int, database: Path, env_file: Path = DEMO_ENV_FILE) -> None:
    saved = read_env_file(env_file)
    settings = demo_settings(database, saved)
    configure_logging(settings)
    saved_key = saved.get(DEMO_KEY) if _same_store(saved, settings.database_url) else None
    # Written before the store is, so its secret is never lost, even if this run stops.
    _save(env_file, settings, saved_key)
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{local}:{port}"
    setup = asyncio.run(prepare(settings, base, saved_key))
    _save(env_file, settings, setup.api_key)
    mounts, emulators = [], {}
    for connection in setup.connections:
        emulated = connection.spec.emulated
        emulator = emulated.emulator(
            emulated.dataset(SEED, PARTICIPANTS), connection.account_id, connection.credential
        )
        emulators[connection.spec.name] = emulator
        mounts.append(Mount(f"/_emulators/{connection.spec.name}", app=emulator.app))
    mounts.append(Mount(RECEIVER, app=receiver_app(list(setup.webhook_secrets), _delivered)))
    activity = Activity(emulators, random.Random()) if settings.demo_activity else None
    app = create_app(settings, extra_routes=mounts, landing_handle=HANDLE)
    settle_heap()  # as `serve` does: the collector no longer walks what start-up built
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.log_level,
        log_config=None,  # configured above, before anything is logged
        **uvicorn_options(settings),
    )
    server = DemoServer(
        config, app.state.services, lambda: _announce(setup, base, env_file), activity
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn has shut down
        server.run()
    if not server.started:
        sys.exit(1)  # uvicorn said why (the port is taken, say)
