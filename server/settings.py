"""Settings: read once from the environment into one frozen object that is passed down.

Each field of `Settings` declares its variable, its default and what it means; reading,
checking, `--help` and the README's table all come from those declarations. Starlette's
`Config` does the reading (tests pass `environ={...}` instead of patching os.environ) and
`Secret` values keep their repr hidden.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.config import Config
from starlette.datastructures import Secret

PREFIX = "BUSINESS_API_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./business-api.db"
# The policy is package data (the `policies` package), so the default is the same file in a
# checkout, an editable install and an installed wheel, wherever the command runs.
DEFAULT_POLICY = Path(str(resources.files("policies").joinpath("business-api.toml")))


class SettingsError(Exception):
    """A setting is missing or wrong; the message names the variable."""


@dataclass(frozen=True)
class Spec:
    """How one setting is read: its variable (after the prefix), the text it defaults to
    (None: unset), what it means, and how the text becomes a value."""

    variable: str
    default: str | None
    meaning: str
    parse: Callable[[str], Any]
    required: bool = False
    shown: str | None = None  # the default as documentation states it, when not its text

    @property
    def name(self) -> str:
        return PREFIX + self.variable


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError("must be a whole number") from None
        if value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("must be a number of seconds") from None
    if not value > 0:
        raise ValueError("must be more than 0 seconds")
    return value


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("must be a number of days") from None
    if not value > 0:
        raise ValueError("must be more than 0 days")
    return value


def _schedule(text: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError("must be seconds separated by commas, such as 0,5,300") from None
    if not delays or any(not 0 <= delay <= 7 * 86400 for delay in delays):
        raise ValueError("must be one or more delays of 0 to 604800 seconds")
    return delays


def _seconds_up_to(maximum: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = _seconds(text)
        if value > maximum:
            raise ValueError(f"must be at most {maximum:g} seconds")
        return value

    return parse


def _secret(minimum: int) -> Callable[[str], Secret]:
    def parse(text: str) -> Secret:
        if len(text) < minimum:
            raise ValueError(f"must be at least {minimum} characters long")
        return Secret(text)

    return parse


def _text(text: str) -> str:
    return text


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text.startswith(schemes):
            raise ValueError(f"must start with {' or '.join(schemes)}")
        return text.rstrip("/")

    return parse


# The drivers the store runs on, and what people often write instead.
_DRIVERS = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
_OTHER_SPELLINGS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
}


def _database_url(text: str) -> str:
    if text.startswith(_DRIVERS):
        return text
    scheme = text.partition("://")[0] if "://" in text else ""
    better = _OTHER_SPELLINGS.get(scheme.lower())
    if better:  # only the scheme is repeated: the rest may hold a password
        raise ValueError(f"must use the async driver: write {better}://… instead of {scheme}://…")
    raise ValueError(f"must start with {' or '.join(_DRIVERS)}")


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return parse


def _setting(
    variable: str,
    default: str | None,
    meaning: str,
    parse: Callable[[str], Any] = _text,
    *,
    required: bool = False,
    shown: str | None = None,
) -> Any:
    return field(metadata={"spec": Spec(variable, default, meaning, parse, required, shown)})


@dataclass(frozen=True)
class Settings:
    secret_key: Secret = _setting(
        "SECRET_KEY",
        None,
        "Signs cursors and encrypts provider credentials (32 or more random characters: "
        "`business-api secret` prints one).",
        _secret(16),
        required=True,
    )
    database_url: str = _setting(
        "DATABASE_URL",
        DEFAULT_DATABASE_URL,
        "The store: `sqlite+aiosqlite:///file.db` or `postgresql+asyncpg://user@host/db`.",
        _database_url,
    )
    admin_token: Secret | None = _setting(
        "ADMIN_TOKEN",
        None,
        "Bearer token of the operator's endpoint `/admin/api/graphql` and of the metrics "
        "at `/metrics` (both off when unset; 32 or more characters).",
        _secret(32),
    )
    metrics_per_business: bool = _setting(
        "METRICS_PER_BUSINESS",
        "false",
        "Also count requests per business handle (`business_api_business_requests_total`): "
        "one series per business and status, so off unless the businesses are few.",
        _flag,
    )
    redis_url: str | None = _setting(
        "REDIS_URL", None, "Redis shared by every server process for the rate limits."
    )
    public_url: str | None = _setting(
        "PUBLIC_URL",
        None,
        "The server's public base URL, for the reference links in errors (relative links "
        "when unset).",
        _url(("http://", "https://")),
    )
    log_format: str = _setting(
        "LOG_FORMAT",
        "auto",
        "Log lines on stderr: `json`, `text`, or `auto` (text on a terminal, JSON otherwise).",
        _one_of("auto", "json", "text"),
    )
    log_level: str = _setting(
        "LOG_LEVEL",
        "info",
        "The least severe log lines written: `debug`, `info`, `warning` or `error`.",
        _one_of("debug", "info", "warning", "error"),
    )
    policy_path: Path = _setting(
        "POLICY",
        str(DEFAULT_POLICY),
        "The access policy file.",
        Path,
        shown="the packaged `policies/business-api.toml`",
    )
    key_rate_limit: int = _setting(
        "KEY_RATE_LIMIT", "60", "Requests per minute per API key.", _whole(1)
    )
    business_rate_limit: int = _setting(
        "BUSINESS_RATE_LIMIT",
        "120",
        "Requests per minute per business, all its keys together (a business may override it).",
        _whole(1),
    )
    auth_failure_limit: int = _setting(
        "AUTH_FAILURE_LIMIT",
        "30",
        "Requests per minute with a wrong key from one client address, before 429.",
        _whole(1),
    )
    max_body_bytes: int = _setting(
        "MAX_BODY_BYTES", "100000", "Largest request body, in bytes.", _whole(1)
    )
    body_timeout_seconds: float = _setting(
        "BODY_TIMEOUT", "10", "Seconds a client may take to send a request body.", _seconds
    )
    keep_alive_timeout_seconds: float = _setting(
        "KEEP_ALIVE_TIMEOUT",
        "5",
        "Seconds an idle connection is kept open, and a client may take to send its headers.",
        _seconds,
    )
    max_connections: int = _setting(
        "MAX_CONNECTIONS",
        "500",
        "Concurrent connections per server process; more are answered 503.",
        _whole(1),
    )
    max_depth: int = _setting("MAX_DEPTH", "10", "Deepest operation, in fields.", _whole(1))
    max_aliases: int = _setting("MAX_ALIASES", "15", "Most aliases in one operation.", _whole(1))
    max_tokens: int = _setting("MAX_TOKENS", "2000", "Longest document, in tokens.", _whole(1))
    max_fields: int = _setting(
        "MAX_FIELDS",
        "1000",
        "Most fields in one operation once its fragments are expanded.",
        _whole(1),
    )
    max_field_repeats: int = _setting(
        "MAX_FIELD_REPEATS",
        "10",
        "Most times one field may be selected in one place (fragments and same-named fields "
        "merged).",
        _whole(1),
    )
    max_cost: int = _setting(
        "MAX_COST",
        "4612",
        "Highest price of one operation, in cost points (object 1, list 2 + `first` × item): "
        "four times the Business API document's example query.",
        _whole(1),
    )
    document_cache_entries: int = _setting(
        "DOCUMENT_CACHE_ENTRIES",
        "1000",
        "Documents kept parsed and checked, so a repeated query is not parsed again.",
        _whole(1),
    )
    document_cache_bytes: int = _setting(
        "DOCUMENT_CACHE_BYTES",
        "33554432",
        "Memory the kept documents may take, in bytes (roughly 24 per byte of query).",
        _whole(65536),
    )
    execution_timeout_seconds: float = _setting(
        "EXECUTION_TIMEOUT", "10", "Seconds an operation may run.", _seconds
    )
    upstream_timeout_seconds: float = _setting(
        "UPSTREAM_TIMEOUT", "10", "Seconds one provider call may take in all.", _seconds
    )
    max_upstream_bytes: int = _setting(
        "MAX_UPSTREAM_BYTES",
        "4194304",
        "Largest provider response read, in bytes; a larger one is a provider failure.",
        _whole(1024),
    )
    upstream_connections: int = _setting(
        "UPSTREAM_CONNECTIONS",
        "16",
        "Provider calls in flight at once for one provider connection, each on an HTTP "
        "connection of its own; more wait their turn within their deadline.",
        _whole(1),
    )
    provider_wait_limit_seconds: float = _setting(
        "PROVIDER_WAIT_LIMIT",
        "900",
        "Longest wait a provider may ask for (`Retry-After`, `RateLimit-Reset`); a sync "
        "pass asked to wait longer ends with an error instead.",
        _seconds,
    )
    max_upstream_pages: int = _setting(
        "MAX_UPSTREAM_PAGES",
        "20",
        "Most provider pages read for one relation in one request.",
        _whole(1),
    )
    provider_cache_seconds: float = _setting(
        "PROVIDER_CACHE_SECONDS",
        "180",
        "How long a provider's slow-changing lists may be reused between requests (at most 180).",
        _seconds_up_to(180),
    )
    breaker_failures: int = _setting(
        "BREAKER_FAILURES",
        "5",
        "Provider calls failing in a row before a connection fails fast for a cool-down.",
        _whole(1),
    )
    breaker_cooldown_seconds: float = _setting(
        "BREAKER_COOLDOWN",
        "30",
        "Seconds a failing connection fails fast before it is tried again.",
        _seconds,
    )
    sync_interval_seconds: float = _setting(
        "SYNC_INTERVAL",
        "300",
        "Seconds from the end of one background sync pass of an indexed connection to the "
        "next, each connection on a schedule of its own, in `serve` and `demo`.",
        _seconds,
    )
    sync_concurrency: int = _setting(
        "SYNC_CONCURRENCY",
        "4",
        "Indexed connections one process syncs at once; each waits only on its own provider.",
        _whole(1),
    )
    sync_pass_requests: int = _setting(
        "SYNC_PASS_REQUESTS",
        "600",
        "Most provider requests one sync pass of one connection sends; the next pass goes on "
        "from where it stopped.",
        _whole(1),
    )
    sync_pass_seconds: float = _setting(
        "SYNC_PASS_SECONDS",
        "1800",
        "Longest one sync pass of one connection runs; the next pass goes on from where it "
        "stopped.",
        _seconds,
    )
    watch_interval_seconds: float = _setting(
        "WATCH_INTERVAL",
        "60",
        "Seconds between watch passes of a live connection, which read what changed since "
        "the last one.",
        _seconds,
    )
    full_pass_interval_seconds: float = _setting(
        "FULL_PASS_INTERVAL",
        "86400",
        "Seconds between full passes of a connection (a whole crawl of an indexed one, a "
        "reconciliation of a live one): they find what was removed.",
        _seconds,
    )
    change_retention_days: float = _setting(
        "CHANGE_RETENTION_DAYS",
        "30",
        "Days the change log keeps an event; older ones are trimmed in the background.",
        _days,
    )
    demo_activity: bool = _setting(
        "DEMO_ACTIVITY",
        "true",
        "`business-api demo` only: change the emulated providers' data every few seconds, "
        "so that change events appear.",
        _flag,
    )
    webhook_retry_schedule: tuple[float, ...] = _setting(
        "WEBHOOK_RETRY_SCHEDULE",
        "0,5,300,1800,7200,18000,36000,50400,72000,86400",
        "Seconds before each try of a webhook delivery after the one before (the first: "
        "after the event), each with up to a tenth more or less of jitter; when they are "
        "spent, the subscription is disabled.",
        _schedule,
    )
    webhook_disable_after_days: float = _setting(
        "WEBHOOK_DISABLE_AFTER_DAYS",
        "5",
        "Days of failed deliveries (and no success) after which a subscription is disabled.",
        _days,
    )
    webhook_timeout_seconds: float = _setting(
        "WEBHOOK_TIMEOUT",
        "15",
        "Seconds a webhook receiver has to answer a delivery.",
        _seconds,
    )
    webhook_endpoint_concurrency: int = _setting(
        "WEBHOOK_ENDPOINT_CONCURRENCY",
        "4",
        "Deliveries one process sends to one subscription's endpoint at once (an ordered "
        "subscription takes one at a time).",
        _whole(1),
    )
    webhook_secret_grace_seconds: float = _setting(
        "WEBHOOK_SECRET_GRACE",
        "86400",
        "Seconds a rotated webhook secret keeps signing beside the new one.",
        _seconds,
    )
    webhook_allow_private: bool = _setting(
        "WEBHOOK_ALLOW_PRIVATE",
        "false",
        "Allow webhook URLs over http and to loopback, private or link-local addresses "
        "(self-hosted receivers, the demo); by default only https to public addresses.",
        _flag,
    )
    sync_lease_seconds: float = _setting(
        "SYNC_LEASE_SECONDS",
        "60",
        "How long a sync's hold on a connection lasts without renewal (a crashed sync's "
        "connection is free again after this).",
        _seconds,
    )
    store_poll_seconds: float = _setting(
        "STORE_POLL_SECONDS",
        "2",
        "How often a server looks for changes other processes made (connections, keys): "
        "a key revoked elsewhere stops working within this time (at most 5 seconds).",
        _seconds_up_to(5),
    )
    key_cache_entries: int = _setting(
        "KEY_CACHE_ENTRIES",
        "10000",
        "Verified API keys a server process keeps, so a warm request reads nothing from the "
        "store (the least recently used go first).",
        _whole(1),
    )
    business_cache_entries: int = _setting(
        "BUSINESS_CACHE_ENTRIES",
        "10000",
        "Businesses whose provider connections (clients, budgets, breakers, caches) a server "
        "process keeps ready; the least recently used beyond are built again when next used.",
        _whole(1),
    )
    last_used_flush_seconds: float = _setting(
        "LAST_USED_FLUSH_SECONDS",
        "5",
        "How often the keys' last-used times are written to the store.",
        _seconds,
    )

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: Path | None = None,
        **overrides: object,
    ) -> Settings:
        """Every setting from `environ` (default: the process's), else from `env_file`
        (`NAME=value` lines; variables that are no setting are ignored), then `overrides`."""
        config = Config(env_file, environ=dict(os.environ if environ is None else environ))
        values: dict[str, object] = {}
        for name, spec in specs():
            if name in overrides:
                continue
            text = config(spec.name, default=None)
            if text is None or text == "":
                if spec.required:
                    raise SettingsError(f"{spec.name} is not set: {spec.meaning}")
                text = spec.default
            try:
                values[name] = None if text is None else spec.parse(text)
            except ValueError as error:
                raise SettingsError(f"{spec.name} {error}.") from None
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def specs() -> Iterator[tuple[str, Spec]]:
    """(field name, spec) of every setting, in declaration order."""
    for item in fields(Settings):
        yield item.name, item.metadata["spec"]


def markdown_table() -> str:
    """The settings as the README lists them (a test keeps the two equal)."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for _, spec in specs():
        if spec.shown:
            default = spec.shown
        elif spec.required:
            default = "(required)"
        else:
            default = f"`{spec.default}`" if spec.default else "unset"
        rows.append(f"| `{spec.name}` | {default} | {spec.meaning} |")
    return "\n".join(rows)


def settings_help(names: Iterable[str] | None = None) -> str:
    """The settings (all, or those of the given fields) as `--help` lists them: Click's
    `\\b` keeps the lines as they are."""
    wanted = None if names is None else set(names)
    lines = ["\b", "Settings (environment variables):"]
    for name, spec in specs():
        if wanted is not None and name not in wanted:
            continue
        if spec.shown:
            default = spec.shown.replace("`", "")
        elif spec.required:
            default = "required"
        else:
            default = f"default {spec.default}" if spec.default else "unset by default"
        lines.append(f"  {spec.name} ({default})")
        meaning = spec.meaning.replace("`", "")
        lines.extend(textwrap.wrap(meaning, 84, initial_indent=" " * 6, subsequent_indent=" " * 6))
    return "\n".join(lines)
