"""The `business-api` command: run the server and manage businesses, keys and connections.

Output meant for scripts (a new key) goes to stdout alone; everything else to stderr.
What commands share is in `server/cli_base.py`; the `webhooks` group is in
`server/webhooks/commands.py`.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from server.cli_base import (
    StoreCommands,
    _business_id,
    _guarded,
    _lag,
    _print_rows,
    _run,
    _say,
    _settings,
    _when,
    _with_services,
)
from server.scopes_help import ScopesListed
from server.settings import Settings, SettingsError, settings_help
from server.webhooks.commands import webhooks

T = TypeVar("T")


class NotCaughtUp(click.ClickException):
    """`sync` did not catch every connection up, and nothing failed: a pass stopped at
    its bound, or another sync holds a connection. Exit 3: run it again (when it says)."""

    exit_code = 3

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True)  # each connection says why itself


@click.group(epilog=settings_help())
@click.version_option(package_name="business-api", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show the traceback of a failure.")
def main(debug: bool) -> None:
    """Serve the Sessions Business API and manage what it serves.

    Settings come from the environment (below). Every store command checks the store
    first: run `business-api migrate` once, and again after each upgrade.
    """


@main.command(epilog=settings_help(("database_url",)))
@_run
async def migrate() -> None:
    """Create or upgrade the store's tables.

    Create the store's tables, or bring them to this version's schema."""
    from server.store.database import create_engine, sqlite_path
    from server.store.database import migrate as upgrade
    from server.store.readiness import current_revision, head_revision, where

    settings = _settings()
    engine = create_engine(settings.database_url)
    try:
        path = sqlite_path(engine)
        before = None if path and not path.exists() else await current_revision(engine)
        await upgrade(engine)
    finally:
        await engine.dispose()
    head = head_revision()
    if before == head:
        _say(f"The store at {where(engine)} is up to date (schema {head}).")
    else:
        _say(f"The store at {where(engine)} is now at schema {head} (was {before or 'empty'}).")


@main.group(cls=StoreCommands)
def businesses() -> None:
    """Create and list businesses."""


@businesses.command("create")
@click.option("--handle", required=True, help="The handle in /@<handle>/api/graphql.")
@click.option("--name", required=True, help="The business's display name.")
@_run
async def businesses_create(handle: str, name: str) -> None:
    """Create a business, served at /@<handle>/api/graphql."""

    async def work(services: Any) -> None:
        business = await services.store.create_business(handle, name)
        _say(f"Created @{business.handle} ({business.public_id}).")

    await _with_services(_settings(), work)


@businesses.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per business.")
@_run
async def businesses_list(as_json: bool) -> None:
    """List businesses.

    Every business: its handle, ID, rate limit and name."""

    async def work(services: Any) -> None:
        default = services.settings.business_rate_limit
        rows = [
            {
                "handle": business.handle,
                "id": business.public_id,
                "rate_limit_per_minute": business.rate_limit_per_minute or default,
                "name": business.name,
                "created": _when(business.created_at),
            }
            for business in await services.store.list_businesses()
        ]
        _print_rows(rows, as_json)

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
    """Set a business's rate limit.

    Set a business's rate limit, or return it to the default."""
    if (rate_limit is None) == (not default_rate_limit):
        raise click.UsageError("Give either --rate-limit N or --default-rate-limit.")

    async def work(services: Any) -> None:
        business_id = await _business_id(services, handle)
        row = await services.store.set_rate_limit(business_id, rate_limit)
        limit = row.rate_limit_per_minute or f"default ({services.settings.business_rate_limit})"
        _say(f"@{handle}: {limit} requests per minute.")

    await _with_services(_settings(), work)


@main.command()
def secret() -> None:
    """Print a new random secret for BUSINESS_API_SECRET_KEY.

    Print 32 random bytes, URL-safe, on stdout. Keep it: the store's credentials are
    encrypted with the secret, and cursors issued under it are refused after a change."""
    import secrets

    click.echo(secrets.token_urlsafe(32))


@main.group(cls=StoreCommands)
def keys() -> None:
    """Mint, list and revoke API keys."""


@keys.command("create", cls=ScopesListed)
@click.option("--business", "handle", required=True, help="The business's handle.")
@click.option(
    "--scopes",
    required=True,
    help="Comma-separated scopes (listed below), e.g. participants:read,registrations:read.",
)
@click.option("--name", required=True, help="What the key is for.")
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None)
@_run
async def keys_create(handle: str, scopes: str, name: str, expires_in_days: int | None) -> None:
    """Mint a key; it is printed once, on stdout.

    Print the new key on stdout, once: only its hash is stored. The key also gets
    the scopes marked "Always added" below; a scope without those it needs is refused."""
    from server.directory import check_scopes

    async def work(services: Any) -> None:
        business_id = await _business_id(services, handle)
        wanted = check_scopes([s.strip() for s in scopes.split(",") if s.strip()], services.policy)
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
@click.option("--json", "as_json", is_flag=True, help="One JSON object per key.")
@_run
async def keys_list(handle: str | None, as_json: bool) -> None:
    """List keys (never their secrets).

    Every key's id, business, state, scopes and name (never its secret)."""

    async def work(services: Any) -> None:
        business_id = await _business_id(services, handle) if handle else None
        handles = {b.id: b.handle for b in await services.store.list_businesses()}
        now = datetime.now(UTC)
        rows = []
        for key in await services.store.list_api_keys(business_id):
            expired = key.expires_at is not None and key.expires_at <= now
            rows.append(
                {
                    "key_id": key.key_id,
                    "business": handles.get(key.business_id, ""),
                    "state": "revoked" if key.revoked_at else "expired" if expired else "active",
                    "scopes": ",".join(key.scopes),
                    "name": key.name,
                    "created": _when(key.created_at),
                    "last_used": _when(key.last_used_at),
                    "expires": _when(key.expires_at),
                }
            )
        _print_rows(rows, as_json)

    await _with_services(_settings(), work)


def _key_id(given: str) -> str:
    """A key id, or the id inside a full key: the secret part is never repeated back."""
    from server.store.keys import KEY_PREFIX, parse_key

    given = given.strip()
    if given.startswith(f"{KEY_PREFIX}_"):
        parsed = parse_key(given)
        if parsed is None:
            raise click.ClickException(
                "That is not a key this server mints (sk_<key id>_<secret>); give its key id "
                "as `keys list` shows it."
            )
        return parsed[0]
    return given


@keys.command("revoke")
@click.argument("key")
@_run
async def keys_revoke(key: str) -> None:
    """Revoke a key at once.

    Revoke a key, given its key id or the whole key; it stops working at once."""
    key_id = _key_id(key)

    async def work(services: Any) -> None:
        now = datetime.now(UTC)
        key = await services.store.revoke_api_key(key_id, now=now)
        if key.revoked_at is not None and key.revoked_at < now:
            _say(f"Key {key_id} was already revoked, on {_when(key.revoked_at)} UTC.")
        else:
            _say(f"Revoked key {key_id}.")

    await _with_services(_settings(), work)


@keys.command("roll")
@click.argument("key")
@click.option(
    "--overlap",
    default="24h",
    show_default=True,
    help="How long the old key keeps working beside the new one (e.g. 30m, 24h, 7d, 0).",
)
@_run
async def keys_roll(key: str, overlap: str) -> None:
    """Replace a key, the old one working a while longer.

    Mint a key with the same business, name, scopes and expiry, which takes over the old
    key's webhook subscriptions; the old key stops working after the overlap. The new key
    is printed once, on stdout."""
    key_id = _key_id(key)
    lasts = _duration(overlap)

    async def work(services: Any) -> None:
        now = datetime.now(UTC)
        new, full, old = await services.store.roll_api_key(key_id, now=now, overlap=lasts)
        _say(f"Created key {new.key_id} with the scopes and name of {key_id}.")
        _say(f"Key {key_id} stops working on {_when(old.expires_at)} UTC.")
        _say("Store the new key now: it is not shown again.")
        click.echo(full)

    await _with_services(_settings(), work)


def _duration(text: str) -> timedelta:
    """`30m`, `24h`, `7d`, `90s` or `0`."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if text == "0":
        return timedelta(0)
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit():
        raise click.BadParameter(
            f"{text!r} is no duration: give a number and s, m, h or d (24h, 7d).",
            param_hint="--overlap",
        )
    return timedelta(seconds=int(number) * units[unit])


@main.group(cls=StoreCommands)
def connections() -> None:
    """Connect businesses to their platforms."""


# The registry loads every provider's adapter: read it when a command or its help needs
# it, never when the command line starts (`--version`, `--help` answer without it).


class _Providers(click.Choice):
    """The registry's provider names."""

    def __init__(self) -> None:
        super().__init__([])

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        from server.providers.registry import PROVIDERS

        return tuple(spec.name for spec in PROVIDERS)

    @choices.setter
    def choices(self, _: Any) -> None:
        pass


class _AccountIdOption(click.Option):
    """`--account-id`, whose help names each provider's form of it."""

    @property  # type: ignore[override]
    def help(self) -> str:
        from server.providers.registry import PROVIDERS

        meanings = "; ".join(f"{spec.title}: {spec.account_id.meaning}" for spec in PROVIDERS)
        return f"The business's account at the provider ({meanings})."

    @help.setter
    def help(self, _: Any) -> None:
        pass


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
@click.option("--provider", type=_Providers(), required=True)
@click.option("--base-url", default=None, help="The provider's API base URL (its default).")
@click.option("--account-id", cls=_AccountIdOption, default="")
@click.option("--credential", default=None, help="The provider credential, or - for stdin.")
@click.option(
    "--credential-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read the credential from this file.",
)
@click.option(
    "--mode",
    default=None,
    metavar="live|indexed",
    help="Read the provider at query time (live) or crawl it into the store (indexed), "
    "for a provider that has both; its default otherwise.",
)
@click.option("--no-verify", is_flag=True, help="Store it without checking it with the provider.")
@_run
async def connections_add(
    handle: str,
    provider: str,
    base_url: str | None,
    account_id: str,
    credential: str | None,
    credential_file: Path | None,
    mode: str | None,
    no_verify: bool,
) -> None:
    """Connect a business to a provider.

    Connect a business to a provider, once one call with the credential works; the
    credential is stored encrypted."""
    from server.connection_check import check_new

    secret = _credential(credential, credential_file)

    async def work(services: Any) -> None:
        spec = services.spec(provider)
        url = base_url or spec.default_base_url
        problem = spec.check_mode(mode or spec.mode) or spec.check_connection(url, account_id)
        if problem:
            raise click.ClickException(problem)
        business_id = await _business_id(services, handle)
        if not no_verify:
            checked = await _verified(
                check_new(
                    services,
                    spec,
                    business_id=business_id,
                    base_url=url,
                    account_id=account_id,
                    credential=secret,
                )
            )
            _say(f"{spec.title} accepted the credential ({checked.milliseconds} ms).")
        connection = await services.store.add_connection(
            business_id,
            provider=provider,
            base_url=url,
            account_id=account_id,
            credential=secret,
            mode=mode or spec.mode,
        )
        _say(f"Connected @{handle} to {spec.title} ({connection.public_id}, {connection.mode}).")

    await _with_services(_settings(), work)


@connections.command("update")
@click.argument("connection_id")
@click.option("--base-url", default=None, help="A new API base URL.")
@click.option("--account-id", default=None, help="A new account id at the provider.")
@click.option("--credential", default=None, help="A new credential, or - for stdin.")
@click.option("--credential-file", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--no-verify", is_flag=True, help="Store it without checking it with the provider.")
@_run
async def connections_update(
    connection_id: str,
    base_url: str | None,
    account_id: str | None,
    credential: str | None,
    credential_file: Path | None,
    no_verify: bool,
) -> None:
    """Change a connection in place.

    Change a connection in place (e.g. rotate its credential), once one call with the
    changed settings works; its GIDs stay the same."""
    from server.connection_check import check_stored

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
            if not no_verify:
                checked = await _verified(
                    check_stored(
                        services,
                        connection_id,
                        base_url=base_url,
                        account_id=account_id,
                        credential=secret,
                    )
                )
                _say(f"{spec.title} accepted the changes ({checked.milliseconds} ms).")
        await services.store.update_connection(
            connection_id, base_url=base_url, account_id=account_id, credential=secret
        )
        _say(f"Updated connection {connection_id}.")

    await _with_services(_settings(), work)


async def _verified(check: Awaitable[T]) -> T:
    """A connection check, its failure ending the command with its one line."""
    from server.connection_check import CheckFailed

    try:
        return await check
    except CheckFailed as failure:
        raise click.ClickException(str(failure)) from None


@connections.command("test")
@click.argument("connection_id")
@_run
async def connections_test(connection_id: str) -> None:
    """Check a stored connection with one call.

    Make one call to the provider with a stored connection: `ok (N ms)`, or what is
    wrong (exit 1)."""
    from server.connection_check import check_stored, update_command

    async def work(services: Any) -> None:
        checked = await _verified(
            check_stored(services, connection_id, fix=update_command(connection_id))
        )
        click.echo(f"ok ({checked.milliseconds} ms)")

    await _with_services(_settings(), work)


@connections.command("list")
@click.option("--business", "handle", default=None, help="Only this business's connections.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per connection.")
@_run
async def connections_list(handle: str | None, as_json: bool) -> None:
    """List connections.

    Every connection: its business, provider, mode, base URL and account; for indexed
    and watched ones, the last sync pass that caught up (a crawl or a watch), how long
    ago (the lag of change detection) and the last error."""

    async def work(services: Any) -> None:
        business_id = await _business_id(services, handle) if handle else None
        handles = {b.id: b.handle for b in await services.store.list_businesses()}
        connections = await services.store.list_connections(business_id)
        synced = await services.index.status([c.id for c in connections])
        now = datetime.now(UTC)
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
                    # The last crawl (indexed) or watch pass (live) that caught up, and
                    # how long ago: changes show up to that late.
                    "last_sync": _when(status.last_completed_at) if status else "-",
                    "lag": _lag(status.last_completed_at if status else None, now),
                    "last_error": (status.last_error if status else None) or "-",
                }
            )
        _print_rows(rows, as_json)

    await _with_services(_settings(), work)


@connections.command("remove")
@click.argument("connection_id")
@_run
async def connections_remove(connection_id: str) -> None:
    """Disconnect a provider.

    Disconnect a provider; its participants disappear from the graph."""

    async def work(services: Any) -> None:
        await services.store.remove_connection(connection_id)
        _say(f"Removed connection {connection_id}.")

    await _with_services(_settings(), work)


@main.group(cls=StoreCommands)
def changes() -> None:
    """Read the change log.

    What appeared, changed or went away at each business's platforms (participants,
    registrations, purchases), numbered in order per business."""


@changes.command("list")
@click.option("--business", "handle", required=True, help="The business, by its handle.")
@click.option(
    "--after", "after", default=0, type=click.IntRange(min=0), help="Only events after this number."
)
@click.option(
    "--topic",
    "topics",
    multiple=True,
    help="Only this topic (repeatable), e.g. registration.created.",
)
@click.option(
    "--limit",
    default=100,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="At most this many events.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event.")
@_run
async def changes_list(
    handle: str, after: int, topics: tuple[str, ...], limit: int, as_json: bool
) -> None:
    """List a business's change events, oldest first.

    List a business's change events, oldest first, from after --after (the SEQ of the last
    one you read)."""
    from server.changes.events import TOPICS

    unknown = [t for t in topics if t not in TOPICS]
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)}: the topics are {', '.join(TOPICS)}.", param_hint="--topic"
        )

    async def work(services: Any) -> None:
        business_id = await _business_id(services, handle)
        events, more = await services.changes.read(
            business_id, after=after, first=limit, topics=list(topics) or None
        )
        rows = [
            {
                "seq": event.seq,
                "topic": event.topic,
                "record": event.record_gid,
                "participant": event.participant_gid,
                "connection": event.connection,
                "provider": event.provider,
                "fields": ",".join(event.fields),
                "occurred": event.occurred_at.isoformat() if event.occurred_at else None,
                "observed": event.observed_at.isoformat(),
            }
            for event in events
        ]
        if as_json:
            _print_rows(rows, as_json)
        else:
            _print_rows([{**row, "occurred": row["occurred"] or "-"} for row in rows], as_json)
        if more and not as_json:
            _say(f"More follow: --after {events[-1].seq}.")

    await _with_services(_settings(), work)


@main.command("sync")
@click.option("--business", "handle", default=None, help="Only this business's connections.")
@click.option("--connection", "connection_id", default=None, help="Only this connection.")
@_run
async def sync_command(handle: str | None, connection_id: str | None) -> None:
    """Crawl the indexed providers: one bounded pass each.

    Each provider is crawled within its own rate limit, several connections at once;
    progress goes to stderr. Exit 0 when every connection is caught up, 1 when one
    failed, 3 when one is not caught up yet (a pass stopped at its bound, or another
    sync holds the connection): run it again, when it says."""

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
            if outcome.synced:
                _say(f"{outcome.provider} {outcome.connection}: caught up.")
        failed = [o for o in outcomes if o.error]
        if failed:
            raise click.ClickException(
                "; ".join(f"{o.provider} {o.connection}: {o.error}" for o in failed)
            )
        behind = [_behind(o) for o in outcomes if o.skipped or o.stopped]
        if behind:
            raise NotCaughtUp("; ".join(behind))

    await _with_services(_settings(), work)


def _behind(outcome: Any) -> str:
    """Why a connection is not caught up, and when to run `sync` again."""
    name = f"{outcome.provider} {outcome.connection}"
    if outcome.stopped:
        return f"{name}: {outcome.stopped}: run `business-api sync` again to go on"
    until = outcome.held_until
    when = until.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if until else "soon"
    return (
        f"{name}: another sync holds this connection until {when} (it renews its hold while "
        "it runs; one that was killed lets go then): run `business-api sync` again after that"
    )


@main.command(epilog=settings_help())
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port (rate limits are shared through Redis).",
)
@click.option(
    "--migrate", "migrate_first", is_flag=True, help="Bring the store's schema up to date first."
)
@click.option(
    "--ssl-certfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve HTTPS with this certificate (PEM, the chain after it), without a proxy.",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The certificate's private key (PEM).",
)
@_guarded
def serve(
    host: str,
    port: int,
    workers: int,
    migrate_first: bool,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
) -> None:
    """Serve the API.

    Serve the API (refuses a store that is not migrated), over HTTPS when given a
    certificate and its key; behind a proxy that terminates TLS, over HTTP."""
    from server.ports import PortTaken, ensure_free
    from server.serving import serve as run

    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise click.UsageError("--ssl-certfile and --ssl-keyfile go together: give both.")
    try:
        ensure_free(host, port)
    except PortTaken as error:
        raise click.ClickException(str(error)) from None
    tls = (ssl_certfile, ssl_keyfile) if ssl_certfile and ssl_keyfile else None
    run(_settings(), host=host, port=port, workers=workers, migrate_first=migrate_first, tls=tls)


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
    """A working server with demo data, from nothing.

    One business, @tremble, over emulators of every provider. Its settings and key are
    kept in business-api-demo.env in the current folder, so a second run gives out the
    same key, and business-api run in this folder manages the demo's store."""
    from schema.policy import PolicyError
    from server.demo import run_demo
    from server.ports import PortTaken, ensure_free

    try:
        ensure_free(host, port)  # before a store is opened or a key is printed
        run_demo(host=host, port=port, database=database)
    except (SettingsError, PolicyError, PortTaken) as error:
        raise click.ClickException(str(error)) from None


@main.group()
def policy() -> None:
    """Inspect the access policy."""


@policy.command("check")
@_guarded
def policy_check() -> None:
    """Validate the policy file against the schema."""
    from schema.policy import PolicyError
    from server.services import load_graph

    try:
        loaded = load_graph(Settings.from_environ(secret_key="unused" * 4).policy_path).policy
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
@_guarded
def docs_build(out: Path) -> None:
    """Write the reference and the public SDL.

    Write the reference (Markdown, HTML) and the public SDL from the loaded policy."""
    from server.reference import write_reference

    for path in write_reference(Settings.from_environ(secret_key="unused" * 4), out):
        _say(f"Wrote {path}")


@main.group("schema")
def schema_group() -> None:
    """Print the schema."""


@schema_group.command("print")
@click.option("--public", is_flag=True, help="Only what a key with every scope can read.")
@_guarded
def schema_print(public: bool) -> None:
    """Print the schema's SDL.

    Print the schema's SDL (the whole graph, or what keys can read)."""
    from server.services import load_graph

    graph = load_graph(Settings.from_environ(secret_key="unused" * 4).policy_path)
    schema = graph.slices.for_scopes(graph.policy.scopes) if public else graph.internal
    click.echo(schema.as_str())


main.add_command(webhooks)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
