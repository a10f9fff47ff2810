"""Sessions (sessions.us): an indexed provider (a workspace's sessions, their
participants and bookings), 10 requests a minute per key."""

from __future__ import annotations

from typing import Any

from schema.source import ConnectionRecord
from server.providers.http import ProviderHttp
from server.providers.indexed import Crawler, IndexView, PersonIds
from server.providers.sessions.crawler import SessionsCrawler, probe
from server.providers.sessions.mapping import PROVIDER
from server.providers.spec import AccountId, Emulated, OutboundLimit, ProviderSpec


def _check_label(value: str) -> str | None:
    return None if len(value) <= 200 and value.isprintable() else "must be a short label"


def _headers(account_id: str, key: str) -> dict[str, str]:
    # The key belongs to one workspace; the account id is only a label, never sent.
    return {"x-api-key": key}


def _crawler(
    http: ProviderHttp, connection: ConnectionRecord, index: IndexView, person_id: PersonIds
) -> Crawler:
    return SessionsCrawler(http, connection, index, person_id)


def _dataset(seed: int, size: int) -> Any:
    from server.providers.sessions.emulated.dataset import generate_dataset

    return generate_dataset(seed=seed, size=max(size // 3, 30))


def _emulator(dataset: Any, account_id: str, key: str) -> Any:
    from server.providers.sessions.emulated.emulator import create_emulator

    # The emulated workspace allows 10 requests a second, not a minute, and says so in its
    # X-RateLimit headers (which the crawler follows), so a first sync takes seconds.
    return create_emulator(dataset, api_key=key, rate_limit=(10, 1))


SPEC = ProviderSpec(
    name=PROVIDER,
    title="Sessions",
    mode="indexed",
    account_id=AccountId(
        "an optional label for the workspace the key belongs to (shown, never sent)",
        _check_label,
        "Tremble workspace",
        required=False,
    ),
    default_base_url="https://api.app.sessions.us",
    headers=_headers,
    probe=probe,
    crawler=_crawler,
    emulated=Emulated(
        dataset=_dataset,
        emulator=_emulator,
        account_id="tremble-workspace",
        maps="distinct people (by email) among session participants and bookings → "
        "participants; each (person, session) → a registration, confirmed or cancelled",
    ),
    outbound=OutboundLimit(limit=10, window_seconds=60),
)
