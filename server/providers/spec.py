"""What the server knows about one provider, declared once in its folder (`spec.py`).

The registry is a list of these. The store's allowed providers, the CLI's choices, the
demo, the connection runtimes and the test fixtures all read them, so a provider's name
and rules are written in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from schema.source import ConnectionRecord
from server.providers.base import ProviderAdapter
from server.providers.http import ProviderHttp
from server.providers.indexed import Crawler, IndexView, PersonIds
from server.providers.watched import Watcher

Mode = Literal["live", "indexed"]


@dataclass(frozen=True)
class OutboundLimit:
    """The provider's documented request budget: `limit` requests in any `window_seconds`,
    per connection (its token) and, where the provider counts endpoints apart, per
    `category` of path."""

    limit: int
    window_seconds: float
    category: Callable[[str], str] = lambda path: "all"


@dataclass(frozen=True)
class RetryPolicy:
    """Transient failures get `attempts` tries in all; a provider asking to wait longer
    than `longest_wait` seconds is not waited for on a client's request."""

    attempts: int = 3
    longest_wait: float = 2.0


@dataclass(frozen=True)
class AccountId:
    """What `--account-id` means for the provider, and the form it must have."""

    meaning: str
    check: Callable[[str], str | None] = lambda value: None  # a message when wrong
    example: str = ""
    required: bool = True


@dataclass(frozen=True)
class Emulated:
    """How the provider is emulated: a seeded data set, and an emulator serving it for an
    account id and a credential. `.app` of what `emulator` returns is a Starlette app;
    `.requests` counts the calls it served."""

    dataset: Callable[[int, int], Any]  # (seed, size) -> data set
    emulator: Callable[[Any, str, str], Any]  # (data set, account id, credential) -> emulator
    account_id: str  # what the demo connects with
    maps: str  # for people: what the provider's data becomes in the graph


@dataclass(frozen=True)
class ProviderSpec:
    name: str  # "wix": the one name used in the store, the CLI, errors and logs
    title: str  # "Wix", for people
    # The mode a new connection gets unless its operator chooses another of `modes`.
    mode: Mode
    account_id: AccountId
    default_base_url: str
    headers: Callable[[str, str], dict[str, str]]  # (account id, credential) -> auth headers
    # The provider's cheapest documented call (one request), made with a connection's
    # credential before it is stored and by `connections test`: it raises the provider
    # error the connection would meet at query or sync time.
    probe: Callable[[ProviderHttp, ConnectionRecord], Awaitable[None]]
    emulated: Emulated
    # A live connection is read by the adapter at query time; an indexed one is crawled
    # into the store by the crawler and read from there. A provider with both lets each
    # connection choose (`ProviderConnection.mode`).
    adapter: Callable[[ProviderHttp, ConnectionRecord], ProviderAdapter] | None = None
    crawler: Callable[[ProviderHttp, ConnectionRecord, IndexView, PersonIds], Crawler] | None = None
    # A live provider that can say what changed since a watermark: its connections are
    # watched for changes (`server/providers/watched.py`).
    watcher: Callable[[ProviderHttp, ConnectionRecord], Watcher] | None = None
    outbound: OutboundLimit | None = None
    retry: RetryPolicy = RetryPolicy()

    def __post_init__(self) -> None:
        if self.adapter is None and self.crawler is None:
            raise ValueError(f"{self.name}: a provider has an adapter (live), a crawler or both")
        if self.mode not in self.modes:
            raise ValueError(f"{self.name}: its default mode {self.mode!r} is not one it has")

    @property
    def modes(self) -> tuple[Mode, ...]:
        """The modes a connection to this provider may have."""
        return (*(("live",) if self.adapter else ()), *(("indexed",) if self.crawler else ()))

    def check_mode(self, mode: str) -> str | None:
        """What is wrong with `mode` for a connection to this provider, or None."""
        if mode in self.modes:
            return None
        supported = " or ".join(self.modes)
        return f"{self.title} connections can be {supported}, not {mode!r}"

    def check_connection(self, base_url: str, account_id: str) -> str | None:
        """What is wrong with a connection's settings, or None."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"--base-url must be an http(s) URL with a host, such as {self.default_base_url}"
        if parts.query or parts.fragment:
            return "--base-url must not carry a query or a fragment"
        if not account_id.strip():
            if not self.account_id.required:
                return None
            return f"--account-id is required: {self.account_id.meaning}"
        problem = self.account_id.check(account_id)
        if problem:
            example = f" (e.g. {self.account_id.example})" if self.account_id.example else ""
            return f"--account-id {problem}{example}"
        return None
