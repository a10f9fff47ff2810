"""Is the store usable? Checked before any command or server uses it, so that an operator
reads what to do ("run `business-api migrate`", "nothing answers at host:port") instead
of a driver's traceback or, worse, a server whose every request fails."""

from __future__ import annotations

import asyncio

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.store.database import alembic_config, sqlite_path

CONNECT_SECONDS = 10.0
MIGRATE = "run `business-api migrate`"


class StoreNotReady(Exception):
    """The store cannot be used as it is; the message says what to do."""


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships its migrations"
    return head


def known_revisions() -> set[str]:
    return {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }


def where(engine: AsyncEngine) -> str:
    """The store as an operator names it, without its password."""
    path = sqlite_path(engine)
    if path is not None:
        return str(path)
    url = engine.url
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The store's revision (None before its first migration); StoreNotReady when the
    database cannot be reached."""
    try:
        async with asyncio.timeout(CONNECT_SECONDS):
            async with engine.connect() as connection:
                return await connection.run_sync(_current_revision)
    except TimeoutError:
        raise StoreNotReady(
            f"The database at {where(engine)} did not answer within {CONNECT_SECONDS:g} s: "
            "check BUSINESS_API_DATABASE_URL and that the database is running."
        ) from None
    except (OSError, SQLAlchemyError) as error:
        raise StoreNotReady(
            f"Cannot use the database at {where(engine)} ({_cause(error)}): "
            "check BUSINESS_API_DATABASE_URL and that the database is running."
        ) from None
    except Exception as error:  # the driver's own errors (asyncpg: no such database, …)
        if type(error).__module__.split(".")[0] not in ("asyncpg", "aiosqlite", "sqlite3"):
            raise
        raise StoreNotReady(
            f"Cannot use the database at {where(engine)} ({_cause(error)}): "
            "check BUSINESS_API_DATABASE_URL."
        ) from None


def _cause(error: BaseException) -> str:
    """The driver's reason, in its words, without the SQL or URL around it."""
    original = getattr(error, "orig", None) or error
    if isinstance(original, ConnectionRefusedError):
        return "connection refused"
    if isinstance(original, OSError) and original.strerror:
        return original.strerror.lower()
    text = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return text or type(original).__name__


async def check_store(engine: AsyncEngine) -> None:
    """Raise StoreNotReady unless the store exists, answers and is at this version's
    schema. An SQLite file that does not exist is not created here (only `migrate` does)."""
    path = sqlite_path(engine)
    if path is not None and not path.exists():
        raise StoreNotReady(f"There is no store at {path} yet: {MIGRATE} to create it.")
    revision = await current_revision(engine)
    head = head_revision()
    if revision == head:
        return
    if revision is None:
        raise StoreNotReady(f"The store at {where(engine)} has no tables yet: {MIGRATE}.")
    if revision in known_revisions():
        raise StoreNotReady(
            f"The store at {where(engine)} is at schema {revision}; this version needs "
            f"{head}: {MIGRATE}."
        )
    raise StoreNotReady(
        f"The store at {where(engine)} is at schema {revision}, which this version does not "
        "know: a newer release of business-api migrated it. Run that release."
    )
