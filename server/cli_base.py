"""What every `business-api` command shares: one-line errors (`_guarded`, `_run`), output
(`_say` to stderr, `_print_rows` to stdout), the settings and the services of a store
command, and `StoreCommands`, a group whose commands list the settings they read.

Command groups live in their own modules (`server/cli.py`, `server/webhooks/commands.py`)
and import these; `server/cli.py` adds every group to `main`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

import click

from server.settings import Settings, SettingsError, settings_help

T = TypeVar("T")


class NotReady(click.ClickException):
    """The store must be migrated (or reached) first: exit 2, as scripts can tell apart."""

    exit_code = 2


def _debugging() -> bool:
    context = click.get_current_context(silent=True)
    return bool(context and context.find_root().params.get("debug"))


def _guarded(command: Callable[..., T]) -> Callable[..., T]:
    """Expected failures end a command with one line saying what to do; anything else
    with one line too, and the traceback only under --debug."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            if _debugging():
                raise
            # Imported here, when a command fails: `--help` and `--version` load neither
            # the graph nor the store.
            from schema.errors import ClientError
            from schema.policy import PolicyError
            from server.store.readiness import StoreNotReady
            from server.store.repository import StoreError

            if isinstance(error, StoreNotReady):
                raise NotReady(str(error)) from None
            if isinstance(error, SettingsError | StoreError | ClientError | PolicyError):
                raise click.ClickException(str(error)) from None
            raise click.ClickException(
                f"unexpected {type(error).__name__}; run again with --debug for the traceback."
            ) from None

    return wrapper


def _run(command: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """An async command, guarded."""

    @_guarded
    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return asyncio.run(command(*args, **kwargs))

    return wrapper


def _say(message: str) -> None:
    click.echo(message, err=True)


def _lag(since: datetime | None, now: datetime) -> str:
    """`42 s`, `3 min`, `2 h`: how long ago `since` was."""
    if since is None:
        return "-"
    seconds = max((now - since).total_seconds(), 0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


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
    """The environment's settings; in the folder where `business-api demo` ran, its env
    file fills in what the environment leaves unset, so the demo's store is at hand."""
    from server.demo_env import DEMO_ENV_FILE

    if not DEMO_ENV_FILE.is_file():
        return Settings.from_environ()
    _say(f"Using settings from {DEMO_ENV_FILE} (written by business-api demo).")
    return Settings.from_environ(env_file=DEMO_ENV_FILE)


async def _with_services(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work` on the store, once it is known to be reachable and migrated."""
    from server.services import Services
    from server.store.readiness import check_store

    services = Services.build(settings)
    try:
        await check_store(services.engine)
        return await work(services)
    finally:
        await services.close()


async def _business_id(services: Any, handle: str) -> int:
    business = await services.store.get_business(handle)
    if business is None:
        raise click.ClickException(f"No business has the handle {handle!r}.")
    return int(business.id)


# What a command that uses the store reads; `serve --help` and `business-api --help` list all.
STORE_SETTINGS = ("secret_key", "database_url", "policy_path")


class StoreCommands(click.Group):
    """A group of store commands: each one's --help lists the settings it reads."""

    def add_command(self, command: click.Command, name: str | None = None) -> None:
        command.epilog = command.epilog or settings_help(STORE_SETTINGS)
        super().add_command(command, name)
