"""The migration creates the schema the models describe, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.store.database import migrate
from server.store.models import Base
from server.store.readiness import head_revision

STORE_TABLES = {
    "businesses",
    "api_keys",
    "provider_connections",
    "store_revision",
    "index_participants",
    "index_sessions",
    "index_registrations",
    "sync_states",
}


def _table_names(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_migrate_creates_the_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert not STORE_TABLES & await conn.run_sync(_table_names)

    await migrate(engine)

    async with engine.connect() as conn:
        assert STORE_TABLES | {"alembic_version"} <= await conn.run_sync(_table_names)
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    assert version == head_revision()


async def test_migrating_twice_is_harmless(engine: AsyncEngine) -> None:
    await migrate(engine)
    await migrate(engine)

    async with engine.connect() as conn:
        versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    assert [v for (v,) in versions] == [head_revision()]


def _schema_differences(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrated_schema_matches_the_models(migrated_engine: AsyncEngine) -> None:
    async with migrated_engine.connect() as conn:
        assert await conn.run_sync(_schema_differences) == []
