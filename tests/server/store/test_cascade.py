"""Deleting a business removes its keys and connections in the database itself."""

from __future__ import annotations

from sqlalchemy import Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from server.store.models import ApiKey, Business, ProviderConnection
from server.store.repository import Store


async def _count(engine: AsyncEngine, table: Table, business_id: int) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(table).where(table.c.business_id == business_id)
        return int((await conn.execute(query)).scalar_one())


async def test_deleting_a_business_cascades_to_its_keys_and_connections(
    store: Store, migrated_engine: AsyncEngine
) -> None:
    doomed = await store.create_business("doomed", "Doomed")
    kept = await store.create_business("kept", "Kept")
    for business in (doomed, kept):
        await store.create_api_key(business.id, name="k", scopes=[])
        await store.add_connection(
            business.id,
            provider="wix",
            base_url="https://wix.example.com",
            account_id="acct",
            credential="secret",
            mode="indexed",
        )

    async with migrated_engine.begin() as conn:
        await conn.execute(delete(Business.__table__).where(Business.__table__.c.id == doomed.id))

    keys: Table = ApiKey.__table__  # type: ignore[assignment]
    connections: Table = ProviderConnection.__table__  # type: ignore[assignment]
    assert await _count(migrated_engine, keys, doomed.id) == 0
    assert await _count(migrated_engine, connections, doomed.id) == 0
    assert await _count(migrated_engine, keys, kept.id) == 1
    assert await _count(migrated_engine, connections, kept.id) == 1
    assert await store.list_api_keys(doomed.id) == []
    assert await store.list_connections(doomed.id) == []
    assert len(await store.list_api_keys()) == 1
