"""Building a provider's adapter the way the server does (its spec's headers, a
`ProviderHttp` over the production transport), aimed at an emulator app served on the
session's socket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schema.source import ConnectionRecord
from server.providers.base import ProviderAdapter
from server.providers.http import ProviderHttp, UpstreamLimits
from server.providers.http1 import Http1Transport
from server.providers.spec import ProviderSpec
from tests.upstream import SocketUpstream

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


@dataclass
class Served:
    """The adapter's transport and the emulator's place on the socket: `close` ends both."""

    transport: Http1Transport
    upstream: SocketUpstream
    base_url: str

    async def close(self) -> None:
        await self.transport.close()
        self.upstream.unmount(self.base_url)


def adapter_for(
    spec: ProviderSpec,
    upstream: SocketUpstream,
    app: Any,
    *,
    account_id: str,
    credential: str,
    limits: UpstreamLimits | None = None,
) -> tuple[ProviderAdapter, Served]:
    """The adapter of a connection to `app` (served on `upstream`); close what comes with
    it when done."""
    base_url = upstream.mount(app, spec.name)
    transport = Http1Transport()
    http = ProviderHttp(
        transport,
        provider=spec.name,
        base_url=base_url,
        headers=spec.headers(account_id, credential),
        limits=limits or UpstreamLimits(),
    )
    adapter = spec.adapter(http, connection_record(spec, account_id, base_url))
    return adapter, Served(transport, upstream, base_url)


async def list_all(adapter: Any, limit: int) -> list[Any]:
    """Every participant, `limit` at a time, following the adapter's own positions."""
    seen, position = [], None
    while True:
        listed = await adapter.list_participants(position=position, limit=limit)
        seen += [record for record, _ in listed.participants]
        if listed.end is None:
            return seen
        position = listed.end
