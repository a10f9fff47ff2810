"""Building a provider's adapter the way the server does (its spec's headers, a
`ProviderHttp`), aimed at an emulator app through httpx's ASGI transport."""

from __future__ import annotations

from typing import Any

import httpx

from schema.source import ConnectionRecord
from server.providers.base import ProviderAdapter
from server.providers.http import HttpxTransport, ProviderHttp, UpstreamLimits
from server.providers.spec import ProviderSpec

CONNECTION = "conn_test"


def connection_record(spec: ProviderSpec, account_id: str, base_url: str) -> ConnectionRecord:
    from datetime import UTC, datetime

    return ConnectionRecord(
        id=1,
        public_id=CONNECTION,
        business_id=1,
        provider=spec.name,
        mode=spec.mode,
        base_url=base_url,
        account_id=account_id,
        position=0,
        created_at=datetime.now(UTC),
    )


def adapter_for(
    spec: ProviderSpec,
    app: Any,
    *,
    account_id: str,
    credential: str,
    limits: UpstreamLimits | None = None,
    base_url: str = "http://provider.test",
) -> tuple[ProviderAdapter, HttpxTransport]:
    """The adapter and its transport (close it when done)."""
    transport = HttpxTransport(httpx.ASGITransport(app=app))
    http = ProviderHttp(
        transport,
        provider=spec.name,
        base_url=base_url,
        headers=spec.headers(account_id, credential),
        limits=limits or UpstreamLimits(),
    )
    return spec.adapter(http, connection_record(spec, account_id, base_url)), transport


async def list_all(adapter: Any, limit: int) -> list[Any]:
    """Every participant, `limit` at a time, following the adapter's own positions."""
    seen, position = [], None
    while True:
        listed = await adapter.list_participants(position=position, limit=limit)
        seen += [record for record, _ in listed.participants]
        if listed.end is None:
            return seen
        position = listed.end
