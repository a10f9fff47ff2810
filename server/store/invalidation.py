"""The invalidation log: what changed in the store that running servers may have cached,
so each server drops only that (one key, one business) instead of every cache it has.
(Not to be confused with the change events of providers' records: `server/changes/`.)

Every change moves the store revision forward by one and writes, in the same
transaction, one row per thing it changed, numbered by that revision. Moving the
revision locks its one row until the transaction ends, so changes commit in the order of
their numbers: a server that has seen revision N and reads the rows after N misses none
(a plain sequence would not promise that; a later number can commit first). The oldest
rows are pruned as new ones come; a server that finds rows missing after the revision it
saw (it slept through more than `KEPT_REVISIONS` changes) drops everything instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import StoreInvalidation, StoreRevision

KEPT_REVISIONS = 10_000  # hours of changes at any plausible rate; pruned beyond
READ_AT_ONCE = 1_000  # more changes than this since a server's last look: it drops everything


class InvalidationKind(StrEnum):
    """What changed; the subject names which one (by the store's own ids)."""

    KEY = "key"  # an API key revoked or changed: its key id
    BUSINESS = "business"  # a business's record (its rate limit): its id
    CONNECTIONS = "connections"  # a business's connections added, changed or removed: its id
    SYNCED = "synced"  # an indexed connection's sync ended (its freshness): its id


@dataclass(frozen=True)
class Invalidation:
    kind: InvalidationKind
    subject: str

    @classmethod
    def key(cls, key_id: str) -> Invalidation:
        return cls(InvalidationKind.KEY, key_id)

    @classmethod
    def business(cls, business_id: int) -> Invalidation:
        return cls(InvalidationKind.BUSINESS, str(business_id))

    @classmethod
    def connections(cls, business_id: int) -> Invalidation:
        return cls(InvalidationKind.CONNECTIONS, str(business_id))

    @classmethod
    def synced(cls, connection_id: int) -> Invalidation:
        return cls(InvalidationKind.SYNCED, str(connection_id))


async def record(session: AsyncSession, changes: Sequence[Invalidation]) -> int:
    """Log `changes` in the session's transaction under the next revision, which it
    returns. Call once per transaction (the revision's row stays locked until its end)."""
    revision = int(
        (
            await session.execute(
                update(StoreRevision)
                .values(revision=StoreRevision.revision + 1)
                .returning(StoreRevision.revision)
            )
        ).scalar_one()
    )
    unique = dict.fromkeys(changes)
    await session.execute(
        insert(StoreInvalidation),
        [{"revision": revision, "kind": c.kind.value, "subject": c.subject} for c in unique],
    )
    await session.execute(
        delete(StoreInvalidation).where(StoreInvalidation.revision <= revision - KEPT_REVISIONS)
    )
    return revision


async def current_revision(session: AsyncSession) -> int:
    return int(await session.scalar(select(StoreRevision.revision)) or 0)


async def since(session: AsyncSession, seen: int) -> tuple[int, list[Invalidation] | None]:
    """(the newest revision, the changes after `seen`), or (the newest revision, None)
    when they cannot all be told: pruned already, or more than `READ_AT_ONCE`."""
    rows = list(
        await session.execute(
            select(StoreInvalidation.revision, StoreInvalidation.kind, StoreInvalidation.subject)
            .where(StoreInvalidation.revision > seen)
            .order_by(StoreInvalidation.revision, StoreInvalidation.id)
            .limit(READ_AT_ONCE + 1)
        )
    )
    if not rows:
        return seen, []
    if rows[0].revision != seen + 1 or len(rows) > READ_AT_ONCE:
        return await current_revision(session), None
    return rows[-1].revision, [
        Invalidation(InvalidationKind(row.kind), row.subject) for row in rows
    ]
