"""The providers this server can read. Adding one is a folder and a line here."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from server.providers.base import ProviderAdapter
from server.providers.wix.client import WixAdapter
from server.store.rows import ConnectionConfig

# (shared HTTP client, the connection, seconds one provider call may take in all)
AdapterFactory = Callable[[httpx.AsyncClient, ConnectionConfig, float], ProviderAdapter]


def _wix(http: httpx.AsyncClient, config: ConnectionConfig, timeout: float) -> ProviderAdapter:
    row = config.connection
    return WixAdapter(
        http,
        timeout_seconds=timeout,
        connection=row.public_id,
        base_url=row.base_url,
        site_id=row.account_id,
        api_key=config.credential,
    )


ADAPTERS: dict[str, AdapterFactory] = {"wix": _wix}


def build_adapter(
    http: httpx.AsyncClient, config: ConnectionConfig, timeout: float
) -> ProviderAdapter | None:
    """None for a kind this server cannot read yet (it is skipped, not an error)."""
    factory = ADAPTERS.get(config.connection.kind)
    return factory(http, config, timeout) if factory else None
