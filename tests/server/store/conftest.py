"""Fixtures giving each test a freshly migrated store on SQLite and on PostgreSQL.

PostgreSQL runs only when TEST_DATABASE_URL is set. Each PostgreSQL test gets its own
schema (via ``search_path``) so tests never see each other's rows and can run in
parallel against one database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.store.crypto import CredentialCipher
from server.store.database import create_engine, migrate, session_factory
from server.store.repository import Store

TEST_SECRET_KEY = "store tests secret key"


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database (not migrated)."""
    if request.param == "sqlite":
        sqlite_engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
        try:
            yield sqlite_engine
        finally:
            await sqlite_engine.dispose()
        return

    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL store tests skipped")
    schema = f"t_{uuid.uuid4().hex}"
    admin = create_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    pg_engine = create_engine(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield pg_engine
    finally:
        await pg_engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def migrated_engine(engine: AsyncEngine) -> AsyncEngine:
    await migrate(engine)
    return engine


@pytest.fixture
def cipher() -> CredentialCipher:
    return CredentialCipher(TEST_SECRET_KEY)


@pytest.fixture
def store(migrated_engine: AsyncEngine, cipher: CredentialCipher) -> Store:
    return Store(session_factory(migrated_engine), cipher)
