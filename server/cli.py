"""The `business-api` command: run the server and manage businesses, keys and connections.

Output meant for scripts (a new key) goes to stdout alone; everything else to stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from schema.errors import ClientError
from schema.policy import PolicyError
from server.settings import Settings, SettingsError
from server.store.repository import StoreError

T = TypeVar("T")


def _run(command: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Run an async command; known errors end it with a message, not a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return asyncio.run(command(*args, **kwargs))
        except (SettingsError, StoreError, ClientError, PolicyError) as error:
            raise click.ClickException(str(error)) from None

    return wrapper


def _say(message: str) -> None:
    click.echo(message, err=True)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    """Rows as JSON lines, or as a table with a header row."""
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        _say("(none)")
        return
    headers = [name.replace("_", " ").upper() for name in rows[0]]
    table = [headers] + [[str(value) for value in row.values()] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    for line in table:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def _settings() -> Settings:
    return Settings.from_environ()


async def _with_services(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from server.services import Services

    services = Services.build(settings)
    try:
        return await work(services)
    finally:
        await services.close()


async def _business_id(services: Any, handle: str) -> int:
    business = await services.store.get_business(handle)
    if business is None:
        raise click.ClickException(f"No business has the handle {handle!r}.")
    return int(business.id)


@click.group()
def main() -> None:
    """Serve the Sessions Business API and manage what it serves."""


@main.command()
@_run
async def migrate() -> None:
    """Create or upgrade the store's tables."""
    from server.store.database import create_engine
    from server.store.database import migrate as upgrade

    settings = _settings()
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    _say("The store is up to date.")


@main.group()
def businesses() -> None:
    """Create and list businesses."""


@businesses.command("create")
@click.option("--handle", required=True, help="The handle in /@<handle>/api/graphql.")
@click.option("--name", required=True, help="The business's display name.")
@_run
async def businesses_create(handle: str, name: str) -> None:
    async def work(services: Any) -> None:
        business = await services.store.create_business(handle, name)
        _say(f"Created @{business.handle} ({business.public_id}).")

    await _with_services(_settings(), work)


@businesses.command("list")
@_run
async def businesses_list() -> None:
    async def work(services: Any) -> None:
        default = services.settings.business_rate_limit
        for business in await services.store.list_businesses():
            limit = business.rate_limit_per_minute or default
            click.echo(f"@{business.handle}\t{business.public_id}\t{limit}/min\t{business.name}")

    await _with_services(_settings(), work)


@businesses.command("update")
@click.argument("handle")
@click.option(
    "--rate-limit",
    type=click.IntRange(min=1),
    default=None,
    help="Requests per minute for the business, all its keys together.",
)
@click.option("--default-rate-limit", is_flag=True, help="Use the server's default again.")
@_run
async def businesses_update(handle: str, rate_limit: int | None, default_rate_limit: bool) -> None:
    if (rate_limit is None) == (not default_rate_limit):
        raise click.UsageError("Give either --rate-limit N or --default-rate-limit.")

    async def work(services: Any) -> None:
        business_id = await _business_id(services, handle)
        row = await services.store.set_rate_limit(business_id, rate_limit)
        limit = row.rate_limit_per_minute or f"default ({services.settings.business_rate_limit})"
        _say(f"@{handle}: {limit} requests per minute.")

    await _with_services(_settings(), work)


@main.group()
def keys() -> None:
    """Mint, list and revoke API keys."""


@keys.command("create")
@click.option("--business", "handle", required=True, help="The business's handle.")
@click.option(
    "--scopes", required=True, help="Comma-separated scopes, e.g. business:read,participants:read."
)
@click.option("--name", required=True, help="What the key is for.")
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None)
@_run
async def keys_create(handle: str, scopes: str, name: str, expires_in_days: int | None) -> None:
    """Print the new key on stdout, once: only its hash is stored."""
    from server.directory import check_scopes

    async def work(services: Any) -> None:
        business_id = await _business_id(services, handle)
        wanted = check_scopes(
            [s.strip() for s in scopes.split(",") if s.strip()],
            list(services.policy.scopes),
            "business:read",
        )
        expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
        row, full = await services.store.create_api_key(
            business_id, name=name, scopes=wanted, expires_at=expires
        )
        _say(f"Created key {row.key_id} for @{handle} with scopes {', '.join(row.scopes)}.")
        _say("Store it now: it is not shown again.")
        click.echo(full)

    await _with_services(_settings(), work)


@keys.command("list")
@click.option("--business", "handle", default=None, help="Only this business's keys.")
@_run
async def keys_list(handle: str | None) -> None:
    async def work(services: Any) -> None:
        business_id = await _business_id(services, handle) if handle else None
        for key in await services.store.list_api_keys(business_id):
            state = (
                "revoked"
                if key.revoked_at
                else "expired"
                if key.expires_at and key.expires_at <= datetime.now(UTC)
                else "active"
            )
            click.echo(f"{key.key_id}\t{state}\t{','.join(key.scopes)}\t{key.name}")

    await _with_services(_settings(), work)


@keys.command("revoke")
@click.argument("key_id")
@_run
async def keys_revoke(key_id: str) -> None:
    async def work(services: Any) -> None:
        await services.store.revoke_api_key(key_id, now=datetime.now(UTC))
        _say(f"Revoked key {key_id}.")

    await _with_services(_settings(), work)


@main.group()
def connections() -> None:
    """Connect businesses to their platforms."""


def _provider_names() -> list[str]:
    from server.providers.registry import PROVIDERS

    return [spec.name for spec in PROVIDERS]


def _account_id_help() -> str:
    from server.providers.registry import PROVIDERS

    meanings = "; ".join(f"{spec.title}: {spec.account_id.meaning}" for spec in PROVIDERS)
    return f"The business's account at the provider ({meanings})."


def _credential(credential: str | None, credential_file: Path | None) -> str:
    """The credential from the option, standard input (`-`) or a file, so that it can stay
    out of the shell's history."""
    if (credential is None) == (credential_file is None):
        raise click.UsageError("Give the credential with --credential or --credential-file.")
    if credential_file is not None:
        try:
            text = credential_file.read_text(encoding="utf-8")
        except OSError as error:
            raise click.ClickException(
                f"Cannot read {credential_file}: {error.strerror}."
            ) from None
    elif credential == "-":
        text = sys.stdin.read()
    else:
        text = credential or ""
    text = text.strip()
    if not text:
        raise click.ClickException("The credential is empty.")
    return text


@connections.command("add")
@click.option("--business", "handle", required=True, help="The business's handle.")
@click.option("--provider", type=click.Choice(_provider_names()), required=True)
@click.option("--base-url", default=None, help="The provider's API base URL (its default).")
@click.option("--account-id", default="", help=_account_id_help())
@click.option("--credential", default=None, help="The provider credential, or - for stdin.")
@click.option(
    "--credential-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read the credential from this file.",
)
@_run
async def connections_add(
    handle: str,
    provider: str,
    base_url: str | None,
    account_id: str,
    credential: str | None,
    credential_file: Path | None,
) -> None:
    """Connect a business to a provider; the credential is stored encrypted."""
    secret = _credential(credential, credential_file)

    async def work(services: Any) -> None:
        spec = services.spec(provider)
        url = base_url or spec.default_base_url
        problem = spec.check_connection(url, account_id)
        if problem:
            raise click.ClickException(problem)
        business_id = await _business_id(services, handle)
        connection = await services.store.add_connection(
            business_id,
            provider=provider,
            base_url=url,
            account_id=account_id,
            credential=secret,
            mode=spec.mode,
        )
        _say(f"Connected @{handle} to {spec.title} ({connection.public_id}).")

    await _with_services(_settings(), work)


@connections.command("update")
@click.argument("connection_id")
@click.option("--base-url", default=None, help="A new API base URL.")
@click.option("--account-id", default=None, help="A new account id at the provider.")
@click.option("--credential", default=None, help="A new credential, or - for stdin.")
@click.option("--credential-file", type=click.Path(dir_okay=False, path_type=Path), default=None)
@_run
async def connections_update(
    connection_id: str,
    base_url: str | None,
    account_id: str | None,
    credential: str | None,
    credential_file: Path | None,
) -> None:
    """Change a connection in place (e.g. rotate its credential); its GIDs stay the same."""
    secret = (
        _credential(credential, credential_file)
        if credential is not None or credential_file is not None
        else None
    )
    if base_url is None and account_id is None and secret is None:
        raise click.UsageError("Give --base-url, --account-id or a new credential.")

    async def work(services: Any) -> None:
        current = await services.store.get_connection(connection_id)
        if current is None:
            raise click.ClickException(f"No connection has the id {connection_id!r}.")
        spec = services.spec(current.provider)
        if spec is not None:
            problem = spec.check_connection(
                base_url or current.base_url, account_id or current.account_id
            )
            if problem:
                raise click.ClickException(problem)
        await services.store.update_connection(
            connection_id, base_url=base_url, account_id=account_id, credential=secret
        )
        _say(f"Updated connection {connection_id}.")

    await _with_services(_settings(), work)


@connections.command("list")
@click.option("--business", "handle", default=None, help="Only this business's connections.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per connection.")
@_run
async def connections_list(handle: str | None, as_json: bool) -> None:
    """Every connection: its business, provider, mode, base URL and account."""

    async def work(services: Any) -> None:
        business_id = await _business_id(services, handle) if handle else None
        handles = {b.id: b.handle for b in await services.store.list_businesses()}
        connections = await services.store.list_connections(business_id)
        synced = await services.index.status([c.id for c in connections])
        rows = []
        for c in connections:
            status = synced.get(c.id)
            indexed = c.mode == "indexed"
            rows.append(
                {
                    "id": c.public_id,
                    "business": handles.get(c.business_id, ""),
                    "provider": c.provider,
                    "mode": c.mode,
                    "base_url": c.base_url,
                    "account_id": c.account_id or "-",
                    "created": _when(c.created_at),
                    "indexed": status.participants if status else (0 if indexed else "-"),
                    "last_sync": _when(status.last_completed_at) if status else "-",
                    "last_error": (status.last_error if status else None) or "-",
                }
            )
        _print_rows(rows, as_json)

    await _with_services(_settings(), work)


@connections.command("remove")
@click.argument("connection_id")
@_run
async def connections_remove(connection_id: str) -> None:
    async def work(services: Any) -> None:
        await services.store.remove_connection(connection_id)
        _say(f"Removed connection {connection_id}.")

    await _with_services(_settings(), work)


@main.command("sync")
@click.option("--business", "handle", default=None, help="Only this business's connections.")
@click.option("--connection", "connection_id", default=None, help="Only this connection.")
@_run
async def sync_command(handle: str | None, connection_id: str | None) -> None:
    """Crawl indexed connections until caught up, within each provider's rate limit."""

    async def work(services: Any) -> None:
        business_id = await _business_id(services, handle) if handle else None
        outcomes = await services.sync.sync_all(
            business_id=business_id,
            connection=connection_id,
            progress=lambda progress: _say(progress.line()),
        )
        if not outcomes:
            _say("No indexed connection to sync.")
        for outcome in outcomes:
            if outcome.skipped:
                _say(f"{outcome.provider} {outcome.connection}: being synced elsewhere; skipped.")
            elif outcome.synced:
                _say(f"{outcome.provider} {outcome.connection}: caught up.")
        failed = [o for o in outcomes if o.error]
        if failed:
            raise click.ClickException(
                "; ".join(f"{o.provider} {o.connection}: {o.error}" for o in failed)
            )

    await _with_services(_settings(), work)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port (rate limits are shared through Redis).",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API with uvicorn."""
    from server.serving import serve as run

    try:
        run(_settings(), host=host, port=port, workers=workers)
    except (SettingsError, PolicyError) as error:
        raise click.ClickException(str(error)) from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--database",
    type=click.Path(path_type=Path),
    default=Path("business-api-demo.db"),
    show_default=True,
    help="The demo's SQLite file (created or reused).",
)
def demo(host: str, port: int, database: Path) -> None:
    """A working server with one business, @tremble, over an emulated Wix site."""
    from server.demo import run_demo

    try:
        run_demo(host=host, port=port, database=database)
    except (SettingsError, PolicyError) as error:
        raise click.ClickException(str(error)) from None


@main.group()
def policy() -> None:
    """Inspect the access policy."""


@policy.command("check")
def policy_check() -> None:
    """Validate the policy file against the schema."""
    from server.services import load_checked_policy

    try:
        loaded, _ = load_checked_policy(Settings.from_environ(secret_key="unused" * 4))
    except PolicyError as error:
        raise click.ClickException(str(error)) from None
    _say(f"{loaded.source}: {len(loaded.fields)} fields under {len(loaded.scopes)} scopes.")


@main.group()
def docs() -> None:
    """Generate the reference."""


@docs.command("build")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("policies/reference"),
    show_default=True,
    help="Where to write reference.md, reference.html and schema.graphql.",
)
def docs_build(out: Path) -> None:
    """Write the reference (Markdown, HTML) and the public SDL from the loaded policy."""
    from server.reference import write_reference

    for path in write_reference(Settings.from_environ(secret_key="unused" * 4), out):
        _say(f"Wrote {path}")


@main.group("schema")
def schema_group() -> None:
    """Print the schema."""


@schema_group.command("print")
@click.option("--public", is_flag=True, help="Only what a key with every scope can read.")
def schema_print(public: bool) -> None:
    from server.services import load_checked_policy

    loaded, executor = load_checked_policy(Settings.from_environ(secret_key="unused" * 4))
    schema = executor.slices.for_scopes(loaded.scopes) if public else executor.internal
    click.echo(schema.as_str())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
