"""Sessionboard: an organisation's contacts and its events' sessions, crawled into the
index by default (its budget of 100 requests per 15 minutes per token and category does
not last long read per query); a connection may be live instead."""

from __future__ import annotations

import re
from typing import Any

from schema.source import ConnectionRecord
from server.providers.base import ProviderAdapter
from server.providers.http import ProviderHttp
from server.providers.indexed import Crawler, IndexView, PersonIds
from server.providers.sessionboard.client import SessionboardAdapter, probe
from server.providers.sessionboard.crawler import SessionboardCrawler
from server.providers.sessionboard.mapping import PROVIDER
from server.providers.spec import AccountId, Emulated, OutboundLimit, ProviderSpec

_ORGANIZATION = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _check_organization(value: str) -> str | None:
    if _ORGANIZATION.fullmatch(value):
        return None
    return "must be a Sessionboard organization id (letters, digits, - or _)"


def category(path: str) -> str:
    """Sessionboard counts its limit per token and category of endpoint."""
    if path.startswith("/v1/organization/"):
        return "contacts"
    if path.startswith("/v1/event/"):
        return "sessions"
    return "events"


def _headers(organization: str, token: str) -> dict[str, str]:
    return {"x-access-token": token}


def _adapter(http: ProviderHttp, connection: ConnectionRecord) -> ProviderAdapter:
    return SessionboardAdapter(
        http, connection=connection.public_id, organization=connection.account_id
    )


def _crawler(
    http: ProviderHttp, connection: ConnectionRecord, index: IndexView, person_id: PersonIds
) -> Crawler:
    return SessionboardCrawler(http, connection)


def _dataset(seed: int, size: int) -> Any:
    from server.providers.sessionboard.emulated.dataset import generate_dataset

    return generate_dataset(seed=seed, contacts=size)


def _emulator(dataset: Any, organization: str, token: str) -> Any:
    from server.providers.sessionboard.emulated.emulator import create_emulator

    return create_emulator(dataset, token=token, organization_id=organization)


SPEC = ProviderSpec(
    name=PROVIDER,
    title="Sessionboard",
    mode="indexed",
    account_id=AccountId("the Sessionboard organization id", _check_organization, "4512"),
    default_base_url="https://public-api.sessionboard.com",
    headers=_headers,
    probe=probe,
    adapter=_adapter,
    crawler=_crawler,
    emulated=Emulated(
        dataset=_dataset,
        emulator=_emulator,
        account_id="tremble-org",
        maps="organisation contacts → participants (name, email); the sessions of its events "
        "in which a contact speaks or takes part → registrations (no consent, no purchases)",
    ),
    # 100 requests per 15 minutes per token and category (second-hand; the provider's own
    # RateLimit-* headers take over when it sends them).
    outbound=OutboundLimit(limit=100, window_seconds=900, category=category),
)
