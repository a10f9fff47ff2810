"""The providers this server can read. Adding one is a folder and a line here."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from server.providers.base import ProviderAdapter
from server.providers.wix.client import WixAdapter
from server.store.rows import ConnectionConfig

AdapterFactory = Callable[[httpx.AsyncClient, ConnectionConfig], ProviderAdapter]


def _wix(http: httpx.AsyncClient, config: ConnectionConfig) -> ProviderAdapter:
    row = config.connection
    return WixAdapter(
        http,
        connection=row.public_id,
        base_url=row.base_url,
        site_id=row.account_id,
        api_key=config.credential,
    )


ADAPTERS: dict[str, AdapterFactory] = {"wix": _wix}
LIVE_KINDS = frozenset(ADAPTERS)


def build_adapter(http: httpx.AsyncClient, config: ConnectionConfig) -> ProviderAdapter | None:
    """None for a kind this server cannot read yet (it is skipped, not an error)."""
    factory = ADAPTERS.get(config.connection.kind)
    return factory(http, config) if factory else None
