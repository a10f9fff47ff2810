"""The providers this server can read. Adding one is a folder and a line here."""

from __future__ import annotations

from collections.abc import Callable

from server.providers.base import ProviderAdapter
from server.providers.http import HttpxTransport, ProviderHttp, UpstreamLimits
from server.providers.wix.client import WixAdapter, wix_headers
from server.store.rows import ConnectionConfig

AdapterFactory = Callable[[HttpxTransport, ConnectionConfig, UpstreamLimits], ProviderAdapter]


def _wix(
    transport: HttpxTransport, config: ConnectionConfig, limits: UpstreamLimits
) -> ProviderAdapter:
    row = config.connection
    http = ProviderHttp(
        transport,
        provider="wix",
        base_url=row.base_url,
        headers=wix_headers(row.account_id, config.credential),
        limits=limits,
    )
    return WixAdapter(http, connection=row.public_id)


ADAPTERS: dict[str, AdapterFactory] = {"wix": _wix}


def build_adapter(
    transport: HttpxTransport, config: ConnectionConfig, limits: UpstreamLimits
) -> ProviderAdapter | None:
    """None for a provider this server cannot read yet (it is skipped, not an error)."""
    factory = ADAPTERS.get(config.connection.kind)
    return factory(transport, config, limits) if factory else None
