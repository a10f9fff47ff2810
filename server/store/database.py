"""Engine creation, sessions and schema migration."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from server.store.availability import OUTAGE, Outage, StoreSession

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # SQLite ignores FOREIGN KEY clauses (and so ON DELETE CASCADE) unless asked per
        # connection.
        cursor.execute("PRAGMA foreign_keys=ON")
        # Write-ahead logging: a reader never holds up a writer's commit nor waits for
        # it. In the default rollback journal, a request's open read held every sync
        # pass's commit (and a cancelled pass's lease release) for the whole lock wait.
        # An in-memory database has no log and answers "memory".
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


class _RollingBackConnection(sqlite3.Connection):
    """An SQLite connection that rolls its transaction back when closed.

    A task cancelled mid-transaction (a sync pass stopped, a request abandoned) has its
    connection closed by SQLAlchemy rather than returned to the pool; SQLite then keeps
    the connection open as long as a statement of it is alive, transaction and write
    lock included, and every other writer waits out its lock timeout. A rollback first
    ends the transaction whatever statements are left."""

    def close(self) -> None:
        try:
            self.rollback()
        finally:
            super().close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an async engine for ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``."""
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {
            "factory": _RollingBackConnection,
            **kwargs.get("connect_args", {}),
        }
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
    return engine


def alembic_config() -> Config:
    """Alembic configuration pointing at the packaged migrations, independent of cwd."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def sqlite_path(engine: AsyncEngine) -> Path | None:
    """The file of an SQLite store (None for PostgreSQL or an in-memory SQLite)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database)


def _create_private(path: Path) -> None:
    """Create the SQLite file readable by its owner only: it holds key hashes and
    encrypted credentials. (SQLite would create it with the process's umask.)"""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the latest revision; a no-op when already there."""
    path = sqlite_path(engine)
    if path is not None:
        _create_private(path)
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def session_factory(
    engine: AsyncEngine, outage: Outage | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (rows are copied out anyway),
    and whose failures to reach the store are `StoreUnavailable` (told to `outage`)."""
    return async_sessionmaker(
        engine,
        class_=StoreSession,
        expire_on_commit=False,
        info={OUTAGE: outage} if outage is not None else None,
    )
