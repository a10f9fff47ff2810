"""The store and the providers as the graph sees them (`schema.source.Directory`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from schema.errors import BadUserInput, NotFound
from schema.source import ApiKeyRecord, BusinessRecord, ConnectionRecord
from server.federation import Federation
from server.providers.base import ProviderAdapter
from server.providers.http import HttpxTransport, UpstreamLimits
from server.providers.registry import ADAPTERS, build_adapter
from server.store.repository import ApiKeyRow, BusinessRow, ConnectionRow, Store, StoreError


def business_record(row: BusinessRow) -> BusinessRecord:
    return BusinessRecord(
        public_id=row.public_id, handle=row.handle, name=row.name, created_at=row.created_at
    )


def key_record(row: ApiKeyRow) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=row.key_id,
        name=row.name,
        scopes=row.scopes,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
    )


def connection_record(row: ConnectionRow) -> ConnectionRecord:
    return ConnectionRecord(
        public_id=row.public_id,
        kind=row.kind,
        mode=row.mode,
        base_url=row.base_url,
        account_id=row.account_id,
        created_at=row.created_at,
    )


def check_scopes(scopes: Sequence[str], declared: Sequence[str], required: str) -> list[str]:
    """Keys carry declared scopes only, and always the one every read starts with."""
    unknown = [s for s in scopes if s not in declared]
    if unknown:
        raise BadUserInput(
            f"Unknown scopes: {', '.join(unknown)}. Declared: {', '.join(declared)}."
        )
    if required not in scopes:
        raise BadUserInput(f"Every key needs the `{required}` scope.")
    return list(dict.fromkeys(scopes))


class StoreDirectory:
    def __init__(
        self,
        store: Store,
        transport: HttpxTransport,
        *,
        scopes: Sequence[str],
        required_scope: str,
        limits: UpstreamLimits,
    ) -> None:
        self._store = store
        self._transport = transport
        self._limits = limits
        self._scopes = list(scopes)
        self._required_scope = required_scope

    def source(self, business: BusinessRecord) -> Federation:
        async def load_adapters() -> list[ProviderAdapter]:
            configs = await self._store.connection_configs(business_public_id=business.public_id)
            adapters = [build_adapter(self._transport, config, self._limits) for config in configs]
            return [adapter for adapter in adapters if adapter is not None]

        return Federation(load_adapters)

    async def _business_row(self, business: BusinessRecord) -> BusinessRow:
        row = await self._store.get_business_by_public_id(business.public_id)
        if row is None:
            raise NotFound("No business has this ID.")
        return row

    async def businesses(self) -> list[BusinessRecord]:
        return [business_record(row) for row in await self._store.list_businesses()]

    async def business(self, public_id: str) -> BusinessRecord | None:
        row = await self._store.get_business_by_public_id(public_id)
        return business_record(row) if row else None

    async def business_of_connection(self, public_id: str) -> BusinessRecord | None:
        row = await self._store.get_business_of_connection(public_id)
        return business_record(row) if row else None

    async def api_keys(self, business: BusinessRecord) -> list[ApiKeyRecord]:
        row = await self._business_row(business)
        return [key_record(key) for key in await self._store.list_api_keys(row.id)]

    async def connections(self, business: BusinessRecord) -> list[ConnectionRecord]:
        row = await self._business_row(business)
        return [connection_record(c) for c in await self._store.list_connections(row.id)]

    async def create_api_key(
        self,
        business: BusinessRecord,
        *,
        name: str,
        scopes: Sequence[str],
        expires_at: datetime | None,
    ) -> tuple[ApiKeyRecord, str]:
        row = await self._business_row(business)
        checked = check_scopes(scopes, self._scopes, self._required_scope)
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise BadUserInput("`expiresAt` must be in the future.")
        key, full = await self._store.create_api_key(
            row.id, name=name, scopes=checked, expires_at=expires_at
        )
        return key_record(key), full

    async def revoke_api_key(self, key_id: str) -> ApiKeyRecord:
        try:
            key = await self._store.revoke_api_key(key_id, now=datetime.now(UTC))
        except StoreError:
            raise NotFound("No API key has this id.") from None
        return key_record(key)

    async def connect_provider(
        self,
        business: BusinessRecord,
        *,
        kind: str,
        base_url: str,
        account_id: str,
        credential: str,
    ) -> ConnectionRecord:
        if kind not in ADAPTERS:
            raise BadUserInput(f"Unknown provider `{kind}`. Known: {', '.join(sorted(ADAPTERS))}.")
        if not base_url.startswith(("http://", "https://")):
            raise BadUserInput("`baseUrl` must be an http(s) URL.")
        row = await self._business_row(business)
        connection = await self._store.add_connection(
            row.id,
            kind=kind,
            base_url=base_url,
            account_id=account_id,
            credential=credential,
            mode="live",
        )
        return connection_record(connection)

    async def disconnect_provider(self, public_id: str) -> ConnectionRecord:
        connection = await self._store.get_connection(public_id)
        if connection is None:
            raise NotFound("No connection has this id.")
        await self._store.remove_connection(public_id)
        return connection_record(connection)
