"""Checking a provider connection with one call before it is trusted.

A wrong credential would otherwise be stored without a word and first show itself as
UPSTREAM_UNAVAILABLE in a client's answer. `connections add` and `connections update`
therefore make the provider's probe (its cheapest documented call, declared in its spec)
with the credential before storing it, and `connections test` makes it for a stored
connection. The call goes through the same `ProviderHttp` as real traffic: the auth
headers, the deadline, the retries of transient failures (a refused credential is never
retried) and, for a stored connection, its outbound budget. A failure becomes one line
saying what is wrong and what to do; the credential is never part of it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from schema.source import ConnectionRecord
from server.providers.errors import (
    InvalidResponse,
    ProviderError,
    ProviderRejected,
    ProviderThrottled,
    ProviderTimedOut,
    ProviderUnavailable,
    ProviderUnreachable,
)
from server.providers.http import ProviderHttp, UpstreamLimits
from server.providers.spec import ProviderSpec
from server.store.rows import ConnectionConfig

if TYPE_CHECKING:
    from server.services import Services

# What to tell the operator to change, given the options at fault.
Fix = Callable[[Sequence[str]], str]


def check_options(options: Sequence[str]) -> str:
    """For a command that takes the options itself (`connections add`, `update`)."""
    return "check " + " and ".join(options)


def update_command(connection_id: str) -> Fix:
    """For `connections test`: the command that changes what is at fault."""
    placeholders = {"--credential": "-", "--base-url": "URL", "--account-id": "ID"}

    def fix(options: Sequence[str]) -> str:
        changes = " ".join(f"{option} {placeholders[option]}" for option in options)
        return f"fix it with `business-api connections update {connection_id} {changes}`"

    return fix


class CheckFailed(Exception):
    """The connection does not work; the message is one line for the operator."""


@dataclass(frozen=True)
class Checked:
    milliseconds: int


async def check_new(
    services: Services,
    spec: ProviderSpec,
    *,
    business_id: int,
    base_url: str,
    account_id: str,
    credential: str,
) -> Checked:
    """Check a connection before it is stored (it has no outbound budget of its own yet)."""
    settings = services.settings
    http = ProviderHttp(
        services.upstream,
        provider=spec.name,
        base_url=base_url,
        headers=spec.headers(account_id, credential),
        limits=dataclasses.replace(
            UpstreamLimits.from_settings(settings),
            attempts=spec.retry.attempts,
            longest_wait=spec.retry.longest_wait,
        ),
    )
    connection = ConnectionRecord(
        id=0,
        public_id="",
        business_id=business_id,
        provider=spec.name,
        mode=spec.mode,
        base_url=base_url,
        account_id=account_id,
        position=0,
        created_at=datetime.now(UTC),
    )
    return await probe(spec, http, connection, check_options)


async def check_stored(
    services: Services,
    connection_id: str,
    *,
    base_url: str | None = None,
    account_id: str | None = None,
    credential: str | None = None,
    fix: Fix = check_options,
) -> Checked:
    """Check a stored connection, with the changes given applied (before they are
    written); its stored credential is decrypted when no new one is given."""
    config = await _config(services, connection_id)
    spec = services.spec(config.connection.provider)
    if spec is None:
        raise CheckFailed(f"This server has no provider named {config.connection.provider!r}.")
    if credential is None and config.credential is None:
        raise CheckFailed(f"Connection {connection_id}: {config.problem}; {fix(['--credential'])}.")
    connection = replace(
        config.connection,
        base_url=base_url or config.connection.base_url,
        account_id=config.connection.account_id if account_id is None else account_id,
    )
    changed = ConnectionConfig(connection, credential or config.credential)
    http = services.runtimes.http_for(spec, changed)
    return await probe(spec, http, connection, fix)


async def _config(services: Services, connection_id: str) -> ConnectionConfig:
    record = await services.store.get_connection(connection_id)
    if record is not None:
        for config in await services.store.connection_configs(record.business_id):
            if config.connection.public_id == connection_id:
                return config
    raise CheckFailed(f"No connection has the id {connection_id!r}.")


async def probe(
    spec: ProviderSpec, http: ProviderHttp, connection: ConnectionRecord, fix: Fix
) -> Checked:
    """The provider's probe over `http`: how long it took, or CheckFailed saying why."""
    started = time.perf_counter()
    try:
        await spec.probe(http, connection)
    except ProviderError as error:
        raise CheckFailed(explain(error, spec, connection.base_url, http.calls, fix)) from None
    return Checked(round((time.perf_counter() - started) * 1000))


def explain(error: ProviderError, spec: ProviderSpec, base_url: str, tries: int, fix: Fix) -> str:
    """One line: what the provider (or whatever answered at `base_url`) did, and what to
    change. Built from the error's kind, status and reason only: never a response body,
    never a header."""
    title, origin = spec.title, _origin(base_url)
    account = ["--account-id"] if spec.account_id.required else []
    tried = f", {tries} tries" if tries > 1 else ""
    if isinstance(error, ProviderRejected):
        # 403: the credential is known but may not read this account (or lacks a scope).
        options = ["--credential", *(account if error.status == 403 else [])]
        return f"{title} refused the credential (HTTP {error.status}): {fix(options)}."
    if isinstance(error, ProviderThrottled):
        wait = (
            f"try again in {math.ceil(error.retry_after)} s"
            if error.retry_after is not None
            else "try again later"
        )
        if error.status is None:
            return f"This connection's budget of requests to {title} is spent: {wait}."
        return f"{title} is throttling the credential (HTTP {error.status}): {wait}."
    if isinstance(error, ProviderUnreachable):
        return f"{origin} does not answer ({error.reason}{tried}): {fix(['--base-url'])}."
    if isinstance(error, ProviderTimedOut):
        return f"{origin} does not answer (timed out after {error.seconds:g} s{tried})."
    if isinstance(error, InvalidResponse):
        what = _invalid(error.detail)
        return (
            f"{origin} answered with something that is not the {title} API ({what}): "
            f"{fix(['--base-url'])}."
        )
    if isinstance(error, ProviderUnavailable) and error.status is not None:
        return f"{title} failed (HTTP {error.status}{tried}): try again later."
    if error.status is not None:  # a 404, a 400, a redirect: not the API at this URL
        return (
            f"{origin} answered with something that is not the {title} API "
            f"(HTTP {error.status}): {fix(['--base-url', *account])}."
        )
    return f"{title} could not be checked: {error.detail}."


def _origin(base_url: str) -> str:
    """The scheme, host and port (never user info, a path or a query)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}"


def _invalid(detail: str) -> str:
    reason = detail.removeprefix("unexpected response: ")
    return "invalid JSON" if reason == "not JSON" else reason
